//! The generated protobuf messages and gRPC service of the control API
//! (proto/volley/control/v1/control.proto, compiled by build.rs with protox).

#![allow(clippy::all, clippy::pedantic, missing_docs)]

tonic::include_proto!("volley.control.v1");
