//! Generates the gRPC API's messages, clients and servers from `proto/lab.proto`, with the protoc
//! of the `protoc-bin-vendored` crate: a fresh machine has no protoc, and the demo builds this crate.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    println!("cargo:rerun-if-changed=proto/lab.proto");
    tonic_prost_build::configure().compile_protos(&["proto/lab.proto"], &["proto"])?;
    Ok(())
}
