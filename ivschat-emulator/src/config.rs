//! Command-line flags (each also settable through an `IVSCHAT_EMULATOR_*` variable).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::faults::{FaultSpec, LatencySpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Toggle {
    On,
    Off,
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "ivschat-emulator",
    version,
    about = "Local emulator of the AWS IVS Chat API (restJson1), for the real SDKs and the AWS CLI"
)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port; see the LISTENING line on stdout).
    #[arg(
        long,
        env = "IVSCHAT_EMULATOR_LISTEN",
        default_value = "127.0.0.1:4599"
    )]
    pub listen: SocketAddr,

    /// Region used when a request's SigV4 credential scope names none.
    #[arg(long, env = "IVSCHAT_EMULATOR_REGION", default_value = "us-east-1")]
    pub region: String,

    /// Account id put in ARNs.
    #[arg(
        long,
        env = "IVSCHAT_EMULATOR_ACCOUNT_ID",
        default_value = "123456789012"
    )]
    pub account_id: String,

    /// Enforce the service quotas (TPS limits, rooms and logging configurations per region).
    #[arg(
        long,
        env = "IVSCHAT_EMULATOR_QUOTAS",
        value_enum,
        default_value = "on"
    )]
    pub quotas: Toggle,

    /// Multiply every TPS quota by this factor.
    #[arg(long, env = "IVSCHAT_EMULATOR_RATE_SCALE", default_value_t = 1.0)]
    pub rate_scale: f64,

    /// Rooms per region.
    #[arg(long, env = "IVSCHAT_EMULATOR_MAX_ROOMS", default_value_t = 50_000)]
    pub max_rooms: u64,

    /// Logging configurations per region.
    #[arg(
        long,
        env = "IVSCHAT_EMULATOR_MAX_LOGGING_CONFIGURATIONS",
        default_value_t = 10
    )]
    pub max_logging_configurations: u64,

    /// Milliseconds a logging configuration spends in CREATING / UPDATING / DELETING (0: none).
    #[arg(
        long,
        env = "IVSCHAT_EMULATOR_LOGGING_CONFIGURATION_DELAY",
        default_value_t = 0
    )]
    pub logging_configuration_delay: u64,

    /// Latency added to every AWS operation, in milliseconds.
    #[arg(long, env = "IVSCHAT_EMULATOR_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,

    /// Extra latency for one operation: OP=MS (repeatable; OP may be `*`).
    #[arg(
        long = "latency",
        env = "IVSCHAT_EMULATOR_LATENCY",
        value_delimiter = ','
    )]
    pub latency: Vec<LatencySpec>,

    /// Inject a fault: OP=KIND:PROB with KIND throttle|internal|drop (also drop-after, conflict,
    /// quota, denied, pending, notfound, untyped); repeatable; OP may be `*`.
    #[arg(long = "fault", env = "IVSCHAT_EMULATOR_FAULT", value_delimiter = ',')]
    pub fault: Vec<FaultSpec>,

    /// Seed for fault injection (random when absent).
    #[arg(long, env = "IVSCHAT_EMULATOR_SEED")]
    pub seed: Option<u64>,

    /// Keep state in this JSON file across restarts (in memory only when absent).
    #[arg(long, env = "IVSCHAT_EMULATOR_STATE_FILE")]
    pub state_file: Option<PathBuf>,
}

impl Default for Config {
    /// The flag defaults, except `listen` on an ephemeral loopback port (for tests).
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            quotas: Toggle::On,
            rate_scale: 1.0,
            max_rooms: 50_000,
            max_logging_configurations: 10,
            logging_configuration_delay: 0,
            latency_ms: 0,
            latency: Vec::new(),
            fault: Vec::new(),
            seed: None,
            state_file: None,
        }
    }
}

impl Config {
    pub fn quotas_on(&self) -> bool {
        self.quotas == Toggle::On
    }
}
