//! `ivschat-operator run` starts the controllers (see `controller::run`);
//! `ivschat-operator crds` prints the CRDs.

use std::io::Write;

use clap::Parser;
use ivschat_operator::config::{Cli, Command, LogFormat, RunArgs};
use tracing_subscriber::EnvFilter;

fn init_logging(args: &RunArgs) {
    let filter = EnvFilter::try_new(&args.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds => {
            let yaml = ivschat_operator::api::crds_yaml()?;
            std::io::stdout().write_all(yaml.as_bytes())?;
            Ok(())
        }
        Command::Run(args) => {
            init_logging(&args);
            ivschat_operator::controller::run(*args).await
        }
    }
}
