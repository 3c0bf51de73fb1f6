//! The gRPC front end: `system::proto`'s `Kv`, `Sets`, `Counters`, `Bank` and `Cluster` services
//! over an [`App`].

use crate::app::App;
use crate::kv::{Consistency, Outcome};
use crate::ServiceError;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use system::proto::{self, bank_server, cluster_server, counters_server, kv_server, sets_server};
use tonic::{Request, Response, Status};

/// The services of one instance.
#[derive(Clone)]
pub struct Grpc(pub Arc<App>);

impl Grpc {
    /// Runs one call, counting it under `method`.
    async fn serve<T>(
        &self,
        method: &'static str,
        work: impl Future<Output = Result<T, ServiceError>>,
    ) -> Result<Response<T>, Status> {
        let started = Instant::now();
        // The rate limit refuses before any work; listing the members is never refused.
        let admitted = if method.starts_with("Cluster/") {
            Ok(())
        } else {
            self.0.live.admit()
        };
        let result = match admitted {
            Ok(()) => work.await,
            Err(e) => Err(e),
        };
        let status = match &result {
            Ok(_) => "ok",
            Err(e) => e.kind(),
        };
        self.0.metrics.request("grpc", method, status, started);
        result.map(Response::new).map_err(Status::from)
    }

    /// A router serving them all, messages bounded as REST bodies are.
    pub fn router(self) -> tonic::service::Routes {
        let limit = crate::limits::MAX_BODY_BYTES;
        tonic::service::Routes::new(
            kv_server::KvServer::new(self.clone()).max_decoding_message_size(limit),
        )
        .add_service(sets_server::SetsServer::new(self.clone()).max_decoding_message_size(limit))
        .add_service(
            counters_server::CountersServer::new(self.clone()).max_decoding_message_size(limit),
        )
        .add_service(bank_server::BankServer::new(self.clone()).max_decoding_message_size(limit))
        .add_service(cluster_server::ClusterServer::new(self).max_decoding_message_size(limit))
    }
}

fn outcome(o: Outcome) -> i32 {
    match o {
        Outcome::Applied => proto::Outcome::Applied as i32,
        Outcome::Accepted => proto::Outcome::Accepted as i32,
    }
}

#[tonic::async_trait]
impl kv_server::Kv for Grpc {
    async fn get(
        &self,
        r: Request<proto::GetRequest>,
    ) -> Result<Response<proto::GetReply>, Status> {
        let r = r.into_inner();
        self.serve("Kv/Get", async {
            let read = self
                .0
                .get(&r.key, Consistency::from_proto(r.consistency)?)
                .await?;
            Ok(proto::GetReply {
                value: read.value,
                siblings: read.siblings,
            })
        })
        .await
    }

    async fn put(
        &self,
        r: Request<proto::PutRequest>,
    ) -> Result<Response<proto::PutReply>, Status> {
        let r = r.into_inner();
        self.serve("Kv/Put", async {
            let done = self
                .0
                .put(&r.key, r.value, Consistency::from_proto(r.consistency)?)
                .await?;
            Ok(proto::PutReply {
                outcome: outcome(done),
            })
        })
        .await
    }

    async fn cas(
        &self,
        r: Request<proto::CasRequest>,
    ) -> Result<Response<proto::CasReply>, Status> {
        let r = r.into_inner();
        self.serve("Kv/Cas", async {
            let swap = self
                .0
                .cas(
                    &r.key,
                    r.expected,
                    r.new,
                    Consistency::from_proto(r.consistency)?,
                )
                .await?;
            Ok(proto::CasReply {
                swapped: swap.swapped,
                current: swap.current,
            })
        })
        .await
    }
}

#[tonic::async_trait]
impl sets_server::Sets for Grpc {
    async fn add(
        &self,
        r: Request<proto::SetAddRequest>,
    ) -> Result<Response<proto::AddReply>, Status> {
        let r = r.into_inner();
        self.serve("Sets/Add", async {
            let consistency = Consistency::from_proto(r.consistency)?;
            let done = self.0.set_add(&r.name, r.element, consistency).await?;
            Ok(proto::AddReply {
                outcome: outcome(done),
            })
        })
        .await
    }

    async fn read(
        &self,
        r: Request<proto::SetReadRequest>,
    ) -> Result<Response<proto::SetReadReply>, Status> {
        let r = r.into_inner();
        self.serve("Sets/Read", async {
            let consistency = Consistency::from_proto(r.consistency)?;
            let elements = self.0.set_read(&r.name, consistency).await?;
            Ok(proto::SetReadReply { elements })
        })
        .await
    }
}

#[tonic::async_trait]
impl counters_server::Counters for Grpc {
    async fn add(
        &self,
        r: Request<proto::CounterAddRequest>,
    ) -> Result<Response<proto::AddReply>, Status> {
        let r = r.into_inner();
        self.serve("Counters/Add", async {
            let consistency = Consistency::from_proto(r.consistency)?;
            let done = self.0.counter_add(&r.name, r.delta, consistency).await?;
            Ok(proto::AddReply {
                outcome: outcome(done),
            })
        })
        .await
    }

    async fn read(
        &self,
        r: Request<proto::CounterReadRequest>,
    ) -> Result<Response<proto::CounterReadReply>, Status> {
        let r = r.into_inner();
        self.serve("Counters/Read", async {
            let consistency = Consistency::from_proto(r.consistency)?;
            let value = self.0.counter_read(&r.name, consistency).await?;
            Ok(proto::CounterReadReply { value })
        })
        .await
    }
}

#[tonic::async_trait]
impl bank_server::Bank for Grpc {
    async fn open(
        &self,
        r: Request<proto::OpenRequest>,
    ) -> Result<Response<proto::OpenReply>, Status> {
        let r = r.into_inner();
        self.serve("Bank/Open", async {
            self.0.open(&r.account, r.balance).await?;
            Ok(proto::OpenReply {})
        })
        .await
    }

    async fn transfer(
        &self,
        r: Request<proto::TransferRequest>,
    ) -> Result<Response<proto::TransferReply>, Status> {
        let r = r.into_inner();
        self.serve("Bank/Transfer", async {
            let t = self.0.transfer(&r.from, &r.to, r.amount).await?;
            Ok(proto::TransferReply {
                id: t.id,
                done: t.done,
            })
        })
        .await
    }

    async fn balances(
        &self,
        _: Request<proto::BalancesRequest>,
    ) -> Result<Response<proto::BalancesReply>, Status> {
        self.serve("Bank/Balances", async {
            let balances = self.0.balances().await?.into_iter().collect();
            Ok(proto::BalancesReply { balances })
        })
        .await
    }
}

#[tonic::async_trait]
impl cluster_server::Cluster for Grpc {
    async fn members(
        &self,
        _: Request<proto::MembersRequest>,
    ) -> Result<Response<proto::MembersReply>, Status> {
        self.serve("Cluster/Members", async {
            let instances = self
                .0
                .discovery
                .members()
                .await?
                .into_iter()
                .map(|i| proto::Instance {
                    role: i.role,
                    name: i.name,
                    http: i.http,
                    grpc: i.grpc,
                })
                .collect();
            Ok(proto::MembersReply {
                instances,
                config_revision: self.0.live.revision(),
            })
        })
        .await
    }
}
