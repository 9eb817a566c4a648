//! Command line and environment configuration (every flag also reads `IVSCHAT_OPERATOR_*`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "ivschat-operator",
    version,
    about = "Kubernetes operator for AWS IVS Chat rooms and logging configurations"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the controllers.
    Run(Box<RunArgs>),
    /// Print every CRD as multi-document YAML (the content of `crds/`).
    Crds,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Name of this cluster, written into the ownership tag of every AWS resource so that
    /// several clusters can share an AWS account without taking each other's rooms.
    #[arg(long, env = "IVSCHAT_OPERATOR_CLUSTER_NAME", default_value = "default")]
    pub cluster_name: String,

    /// Default AWS region for resources without `spec.region` (else the AWS chain's region,
    /// e.g. `AWS_REGION`).
    #[arg(long, env = "IVSCHAT_OPERATOR_REGION")]
    pub region: Option<String>,

    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "IVSCHAT_OPERATOR_WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,

    /// How often every resource is checked against AWS for drift (jittered by up to 10%).
    /// Drift is found by ListRooms sweeps, at most one read per 50 rooms per period.
    #[arg(long, env = "IVSCHAT_OPERATOR_RESYNC_PERIOD", default_value = "10m", value_parser = humantime::parse_duration)]
    pub resync_period: Duration,

    /// How often the most recently updated rooms are checked (the first ListRooms page), so a
    /// change made behind the operator's back is reverted quickly at the cost of one read.
    #[arg(long, env = "IVSCHAT_OPERATOR_DRIFT_POLL_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub drift_poll_interval: Duration,

    /// Maximum number of reconciles running at once, per kind.
    #[arg(long, env = "IVSCHAT_OPERATOR_CONCURRENCY", default_value_t = 16)]
    pub concurrency: u16,

    /// Tags added to every AWS resource, `key=value,key2=value2`. A resource's own tags win.
    #[arg(long, env = "IVSCHAT_OPERATOR_DEFAULT_TAGS", value_parser = parse_tags, default_value = "")]
    pub default_tags: BTreeMap<String, String>,

    /// Address of the HTTP server for `/metrics`, `/healthz` and `/readyz`.
    #[arg(
        long,
        env = "IVSCHAT_OPERATOR_METRICS_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    pub metrics_addr: SocketAddr,

    #[arg(
        long,
        env = "IVSCHAT_OPERATOR_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Log level or tracing filter, e.g. `info` or `info,ivschat_operator=debug`.
    #[arg(long, env = "IVSCHAT_OPERATOR_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Elect a leader with a coordination.k8s.io Lease; only the leader reconciles.
    #[arg(long, env = "IVSCHAT_OPERATOR_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,

    /// Namespace of the leader election Lease (default: the pod's namespace, else `default`).
    #[arg(long, env = "IVSCHAT_OPERATOR_LEADER_ELECTION_NAMESPACE")]
    pub leader_election_namespace: Option<String>,

    /// Name of the leader election Lease.
    #[arg(
        long,
        env = "IVSCHAT_OPERATOR_LEASE_NAME",
        default_value = "ivschat-operator"
    )]
    pub lease_name: String,

    /// How long a Lease is valid without renewal: a standby takes over within this time after
    /// the leader dies.
    #[arg(long, env = "IVSCHAT_OPERATOR_LEASE_DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    pub lease_duration: Duration,

    /// Requests per second per region for each room operation (IVS quota: 5). 0 disables.
    #[arg(long, env = "IVSCHAT_OPERATOR_ROOM_RATE_LIMIT", default_value_t = 5.0)]
    pub room_rate_limit: f64,

    /// Requests per second per region for each logging configuration operation (quota: 3).
    #[arg(
        long,
        env = "IVSCHAT_OPERATOR_LOGGING_CONFIGURATION_RATE_LIMIT",
        default_value_t = 3.0
    )]
    pub logging_configuration_rate_limit: f64,

    /// Requests per second per region for each tag operation (quota: 10).
    #[arg(long, env = "IVSCHAT_OPERATOR_TAG_RATE_LIMIT", default_value_t = 10.0)]
    pub tag_rate_limit: f64,

    /// On SIGTERM, how long in-flight reconciles may take to finish.
    #[arg(long, env = "IVSCHAT_OPERATOR_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
}

/// Parses `key=value,key2=value2` (empty means none).
pub fn parse_tags(s: &str) -> Result<BTreeMap<String, String>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("`{kv}` is not key=value"))?;
            let k = k.trim();
            if k.is_empty() || k.len() > 128 || k.starts_with("aws:") {
                return Err(format!(
                    "tag key `{k}` must be 1-128 characters and not start with `aws:`"
                ));
            }
            if v.len() > 256 {
                return Err(format!("tag value of `{k}` is longer than 256 characters"));
            }
            Ok((k.to_string(), v.trim().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_default_tags() {
        let tags = parse_tags("team=platform, env=prod").expect("valid");
        assert_eq!(tags.get("team").map(String::as_str), Some("platform"));
        assert_eq!(tags.get("env").map(String::as_str), Some("prod"));
        assert!(parse_tags("").expect("empty").is_empty());
        assert!(parse_tags("novalue").is_err());
        assert!(parse_tags("aws:x=1").is_err());
    }

    #[test]
    fn cli_parses_run_flags() {
        let cli = Cli::try_parse_from([
            "ivschat-operator",
            "run",
            "--resync-period",
            "2m",
            "--leader-election=false",
            "--default-tags",
            "a=b",
        ])
        .expect("parse");
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.resync_period, Duration::from_secs(120));
        assert!(!args.leader_election);
        assert_eq!(args.default_tags.len(), 1);
    }
}
