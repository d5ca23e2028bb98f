//! `serve --metrics`: the hub's counters as Prometheus text on
//! `GET /metrics`, and the scraper `tcphub stats` reads them with.
//!
//! The counters live in the core ([`tcphub_core::HubStats`]); each scrape
//! asks the hub task for a copy ([`HubHandle::stats`](crate::HubHandle::stats)),
//! so metrics cost the hub nothing between scrapes. One figure is the
//! server's, not the core's: the hub task's working time
//! ([`HubHandle::hub_task_busy`](crate::HubHandle::hub_task_busy)), a
//! shared counter the task adds to once per turn.

mod encode;
mod http;
mod scrape;

pub use encode::{encode, CONTENT_TYPE};
pub use http::MetricsServer;
pub use scrape::{fetch, parse, Sample, ScrapeError, MAX_SCRAPE_BYTES};
