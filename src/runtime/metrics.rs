//! Prometheus metrics. Names follow controller-runtime so existing dashboards and alerts work;
//! labels are bounded (controller, operation, outcome): never object names or error text.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    pub controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    pub controller: String,
    /// `success`, `error` or `requeue`.
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub operation: String,
    /// `success` or the AWS error code.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabels {
    pub kind: String,
    /// `true`, `false` or `unknown`.
    pub ready: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LeaseLabels {
    pub name: String,
}

fn reconcile_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

fn wait_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

pub struct Metrics {
    pub reconcile_total: Family<ReconcileLabels, Counter>,
    pub reconcile_errors_total: Family<ControllerLabels, Counter>,
    pub reconcile_time_seconds: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    pub active_workers: Family<ControllerLabels, Gauge>,
    pub aws_requests_total: Family<OutcomeLabels, Counter>,
    pub aws_throttles_total: Family<OperationLabels, Counter>,
    pub rate_limiter_wait_seconds: Family<OperationLabels, Histogram, fn() -> Histogram>,
    pub leader: Family<LeaseLabels, Gauge>,
    pub resources: Family<ResourceLabels, Gauge>,
    pub registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let reconcile_total = Family::<ReconcileLabels, Counter>::default();
        let reconcile_errors_total = Family::<ControllerLabels, Counter>::default();
        let reconcile_time_seconds =
            Family::<ControllerLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                reconcile_histogram as _,
            );
        let active_workers = Family::<ControllerLabels, Gauge>::default();
        let aws_requests_total = Family::<OutcomeLabels, Counter>::default();
        let aws_throttles_total = Family::<OperationLabels, Counter>::default();
        let rate_limiter_wait_seconds =
            Family::<OperationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                wait_histogram as _,
            );
        let leader = Family::<LeaseLabels, Gauge>::default();
        let resources = Family::<ResourceLabels, Gauge>::default();

        // prometheus-client appends `_total` to counters itself.
        registry.register(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            reconcile_total.clone(),
        );
        registry.register(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            reconcile_errors_total.clone(),
        );
        registry.register(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            reconcile_time_seconds.clone(),
        );
        registry.register(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            active_workers.clone(),
        );
        registry.register(
            "ivschat_operator_aws_api_requests",
            "AWS IVS Chat API calls by operation and outcome (success or AWS error code)",
            aws_requests_total.clone(),
        );
        registry.register(
            "ivschat_operator_aws_throttles",
            "AWS IVS Chat calls answered with ThrottlingException",
            aws_throttles_total.clone(),
        );
        registry.register(
            "ivschat_operator_rate_limiter_wait_seconds",
            "Time AWS calls waited in the client-side rate limiter",
            rate_limiter_wait_seconds.clone(),
        );
        registry.register(
            "leader_election_master_status",
            "1 while this process holds the leader lease, else 0",
            leader.clone(),
        );
        registry.register(
            "ivschat_operator_resources",
            "Managed objects by kind and Ready condition",
            resources.clone(),
        );
        Metrics {
            reconcile_total,
            reconcile_errors_total,
            reconcile_time_seconds,
            active_workers,
            aws_requests_total,
            aws_throttles_total,
            rate_limiter_wait_seconds,
            leader,
            resources,
            registry,
        }
    }
}

impl Metrics {
    /// Creates every series of the bounded label sets at zero, so dashboards and alerts see
    /// `..._errors_total 0` instead of a missing series before the first error.
    pub fn with_series(controllers: &[&str], operations: &[&str]) -> Self {
        let metrics = Metrics::default();
        for controller in controllers {
            let labels = ControllerLabels {
                controller: controller.to_string(),
            };
            let _ = metrics.reconcile_errors_total.get_or_create(&labels);
            let _ = metrics.active_workers.get_or_create(&labels);
            for result in ["success", "error"] {
                let _ = metrics.reconcile_total.get_or_create(&ReconcileLabels {
                    controller: controller.to_string(),
                    result: result.into(),
                });
            }
        }
        for operation in operations {
            let _ = metrics.aws_throttles_total.get_or_create(&OperationLabels {
                operation: operation.to_string(),
            });
        }
        metrics
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    pub fn observe_aws_call(&self, operation: &str, outcome: &str) {
        self.aws_requests_total
            .get_or_create(&OutcomeLabels {
                operation: operation.into(),
                outcome: outcome.into(),
            })
            .inc();
        if outcome == "ThrottlingException" {
            self.aws_throttles_total
                .get_or_create(&OperationLabels {
                    operation: operation.into(),
                })
                .inc();
        }
    }

    pub fn observe_rate_limit_wait(&self, operation: &str, waited: Duration) {
        self.rate_limiter_wait_seconds
            .get_or_create(&OperationLabels {
                operation: operation.into(),
            })
            .observe(waited.as_secs_f64());
    }

    pub fn observe_reconcile(&self, controller: &str, result: &str, took: Duration) {
        self.reconcile_total
            .get_or_create(&ReconcileLabels {
                controller: controller.into(),
                result: result.into(),
            })
            .inc();
        if result == "error" {
            self.reconcile_errors_total
                .get_or_create(&ControllerLabels {
                    controller: controller.into(),
                })
                .inc();
        }
        self.reconcile_time_seconds
            .get_or_create(&ControllerLabels {
                controller: controller.into(),
            })
            .observe(took.as_secs_f64());
    }

    pub fn set_leader(&self, name: &str, leader: bool) {
        self.leader
            .get_or_create(&LeaseLabels { name: name.into() })
            .set(i64::from(leader));
    }
}

/// Counts a running reconcile in `controller_runtime_active_workers` until dropped.
pub struct ActiveWorker {
    gauge: Gauge,
}

impl ActiveWorker {
    pub fn start(metrics: &Metrics, controller: &str) -> Self {
        // Gauges share their value between clones, so the clone outlives the family's guard.
        let gauge = metrics
            .active_workers
            .get_or_create(&ControllerLabels {
                controller: controller.into(),
            })
            .clone();
        gauge.inc();
        ActiveWorker { gauge }
    }
}

impl Drop for ActiveWorker {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}
