//! The options of the transactional checkers (Elle's, and Jepsen's long-fork), as elle-cli
//! names them, shared by `checker check` and `checker run`.

use consistency::txn::{self, rw_register::Assumptions};
use std::time::Duration;

#[derive(clap::Args, Clone, Debug)]
pub struct ElleArgs {
    /// list-append, rw-register: the consistency models the history should obey,
    /// comma-separated (elle-cli's option and default).
    #[arg(
        long,
        value_name = "MODELS",
        value_delimiter = ',',
        default_value = "strict-serializable"
    )]
    consistency_models: Vec<String>,
    /// list-append, rw-register: specific anomalies to look for as well, comma-separated
    /// (G2-item,lost-update).
    #[arg(long, value_name = "ANOMALIES", value_delimiter = ',')]
    anomalies: Vec<String>,
    /// list-append, rw-register: how many milliseconds to search one strongly connected
    /// component for cycles before reporting `cycle-search-timeout` (verdict unknown,
    /// never a guess).
    #[arg(long, value_name = "MS", default_value = "1000")]
    cycle_search_timeout: u64,
    /// rw-register: assume writes follow reads within a transaction (Elle's :wfr-keys?).
    #[arg(long)]
    wfr_keys: bool,
    /// rw-register: assume each key is sequentially consistent, so process order orders its
    /// versions (Elle's :sequential-keys?).
    #[arg(long)]
    sequential_keys: bool,
    /// rw-register: assume each key is linearizable, so real-time order orders its versions
    /// (Elle's :linearizable-keys?).
    #[arg(long)]
    linearizable_keys: bool,
    /// long-fork: how many keys each read reads (elle-cli's option); 0 takes the size of the
    /// first read.
    #[arg(long, value_name = "N", default_value = "0")]
    group_size: usize,
    /// list-append, rw-register with --directory: draw each cycle to
    /// elle/<anomaly>/<n>.svg (elle-cli's option; only svg is built here).
    #[arg(long, value_name = "FORMAT", default_value = "svg")]
    plot_format: String,
    /// Stop drawing cycles after this many milliseconds (elle-cli's option).
    #[arg(long, value_name = "MS", default_value = "5000")]
    plot_timeout: u64,
    /// Skip a drawing larger than this many bytes (elle-cli's option, there of DOT; here of SVG).
    #[arg(long, value_name = "BYTES", default_value = "65536")]
    max_plot_bytes: usize,
}

/// How cycles are drawn to files (`--plot-format`, `--plot-timeout`, `--max-plot-bytes`).
#[derive(Debug, Clone, Copy)]
pub struct Plots {
    /// How long drawing may take in all.
    pub timeout: Duration,
    /// The largest drawing written.
    pub max_bytes: usize,
}

impl ElleArgs {
    /// How to draw cycles, or why the format asked for cannot be drawn.
    pub fn plots(&self) -> Result<Plots, String> {
        match self.plot_format.as_str() {
            "svg" => Ok(Plots {
                timeout: Duration::from_millis(self.plot_timeout),
                max_bytes: self.max_plot_bytes,
            }),
            "png" => Err(
                "--plot-format png is not built here (it needs a rasterizer and fonts); \
                 use svg, which any browser opens"
                    .into(),
            ),
            other => Err(format!("unknown --plot-format `{other}`; choose svg")),
        }
    }

    /// The checkers' options, or why the models or anomalies named are unknown.
    pub fn options(&self) -> Result<txn::Options, String> {
        let models: Vec<&str> = self.consistency_models.iter().map(String::as_str).collect();
        let anomalies: Vec<&str> = self.anomalies.iter().map(String::as_str).collect();
        txn::model::prohibited(&models, &anomalies).map_err(|e| e.to_string())?;
        Ok(txn::Options {
            consistency_models: self.consistency_models.clone(),
            anomalies: self.anomalies.clone(),
            cycle_search_timeout: Duration::from_millis(self.cycle_search_timeout),
            assume: Assumptions {
                wfr_keys: self.wfr_keys,
                sequential_keys: self.sequential_keys,
                linearizable_keys: self.linearizable_keys,
            },
            group_size: self.group_size,
        })
    }
}
