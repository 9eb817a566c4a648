//! `ivschat-emulator`: a local emulator of the AWS IVS Chat API (restJson1) that the real
//! `aws-sdk-ivschat` client and the AWS CLI talk to over HTTP. See README.md.

pub mod config;
pub mod errors;
pub mod faults;
pub mod handlers;
pub mod model;
pub mod ops;
pub mod persist;
pub mod quotas;
pub mod server;
pub mod state;
pub mod stats;
pub mod util;
pub mod validate;

use std::net::SocketAddr;
use std::sync::Arc;

pub use config::{Config, Toggle};
pub use server::{App, ServerHandle};

/// Load the state (if `--state-file`), bind `config.listen` and serve in the background.
/// Returns the bound address and a handle to stop the server.
pub async fn run(config: Config) -> anyhow::Result<(SocketAddr, ServerHandle)> {
    let store = match &config.state_file {
        Some(path) => persist::load(path)?,
        None => state::Store::default(),
    };
    let app = Arc::new(App::new(config, store));
    server::serve(app).await
}
