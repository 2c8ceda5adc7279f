//! Compiles the control API's protobuf (proto/volley/control/v1/control.proto, and fleet.proto beside it) with protox,
//! a pure-Rust protobuf compiler: `cargo build` needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/volley/control/v1/control.proto",
        "proto/volley/control/v1/fleet.proto",
    ];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(protos, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
