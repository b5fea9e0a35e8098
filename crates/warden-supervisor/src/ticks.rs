//! `TICK_5`, `TICK_60` and `TICK_3600` events, only while somebody wants
//! them: with no tick subscriber this task sleeps until one subscribes, so
//! an idle supervisor still wakes up zero times.

use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::core::events::{Bus, EventKind};

/// Publishes ticks on `bus` at each multiple of every wanted period of the
/// wall clock (supervisord's `when` is the tick time, rounded down).
pub async fn run(bus: Rc<Bus>) {
    loop {
        let periods = bus.tick_periods();
        if periods.is_empty() {
            bus.subscribed().await;
            continue;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = now.as_secs();
        let next = periods
            .iter()
            .map(|p| (secs / u64::from(*p) + 1) * u64::from(*p))
            .min()
            .unwrap_or(secs + 1);
        let wait = Duration::from_secs(next).saturating_sub(now);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            // a new subscriber may want a shorter period
            () = bus.subscribed() => continue,
        }
        for p in bus.tick_periods() {
            if next % u64::from(p) == 0 {
                bus.publish(EventKind::Tick {
                    period: p,
                    when: i64::try_from(next).unwrap_or(i64::MAX),
                });
            }
        }
    }
}
