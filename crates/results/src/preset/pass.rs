//! One `ipcbench run` pass of a preset as named fields, and the one place
//! that spells it as `run` arguments.

/// Settings of one workload family that differ from the pass's own
/// (`--messages-for`, `--sizes-for`, `--transports-for`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The family (`pingpong`, `fanout`, `bcast`), as the command line groups
    /// workloads.
    pub family: &'static str,
    /// Messages per trial and size for this family.
    pub messages: Option<u32>,
    /// Its sizes, as `--sizes` spells them.
    pub sizes: Option<&'static str>,
    /// Its transports, colon-separated as `--transports-for` takes them.
    pub transports: Option<&'static str>,
}

impl Family {
    /// A family with nothing of its own yet (fill in with struct update).
    pub const fn named(family: &'static str) -> Self {
        Self {
            family,
            messages: None,
            sizes: None,
            transports: None,
        }
    }
}

/// One pass of `ipcbench run`: what it measures and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    /// Payload sizes, as `--sizes` spells them (`8B,100,3200`).
    pub sizes: &'static str,
    /// Workloads, as `--workload` spells them (groups such as `fanout` included).
    pub workloads: &'static str,
    /// Placements, comma-separated.
    pub placements: &'static str,
    /// Trials of every headline cell.
    pub trials: u32,
    /// Trials of the other cells, where fewer than `trials`.
    pub secondary_trials: Option<u32>,
    /// Measured messages per trial and size.
    pub messages: u32,
    /// Families whose messages, sizes or transports differ from the pass's.
    pub families: Vec<Family>,
    /// Least time a stream floods each size, where not the run's default.
    pub stream_min_ms: Option<u32>,
    /// Warm-up per size.
    pub warmup_ms: u32,
    /// Codecs of the seed workload, where not only `raw`.
    pub codecs: Option<&'static str>,
    /// Measure only the per-size floors (memcpy, fill + verify): the pass's
    /// round-trip floors are the main pass's.
    pub size_floors_only: bool,
    /// Transports (`default`, or a list), where not every backend.
    pub transports: Option<&'static str>,
}

impl Pass {
    /// The `ipcbench run` arguments this pass stands for, each flag followed
    /// by its one value.
    pub fn args(&self) -> Vec<String> {
        let mut a = Vec::new();
        let mut flag = |name: &str, value: String| {
            a.push(name.to_owned());
            a.push(value);
        };
        flag("--sizes", self.sizes.to_owned());
        flag("--workload", self.workloads.to_owned());
        flag("--placement", self.placements.to_owned());
        flag("--trials", self.trials.to_string());
        if let Some(n) = self.secondary_trials {
            flag("--secondary-trials", n.to_string());
        }
        flag("--messages", self.messages.to_string());
        for f in &self.families {
            if let Some(n) = f.messages {
                flag("--messages-for", format!("{}={n}", f.family));
            }
            if let Some(s) = f.sizes {
                flag("--sizes-for", format!("{}={s}", f.family));
            }
            if let Some(t) = f.transports {
                flag("--transports-for", format!("{}={t}", f.family));
            }
        }
        if let Some(ms) = self.stream_min_ms {
            flag("--stream-min-ms", ms.to_string());
        }
        flag("--warmup-ms", self.warmup_ms.to_string());
        if let Some(c) = self.codecs {
            flag("--codec", c.to_owned());
        }
        if self.size_floors_only {
            flag("--floors", "sizes".to_owned());
        }
        if let Some(t) = self.transports {
            flag("--transport", t.to_owned());
        }
        a
    }

    /// Whether the pass runs the workload family `family`.
    pub fn runs(&self, family: &str) -> bool {
        self.workloads.split(',').any(|w| w == family)
    }

    /// The settings of `family` that differ from the pass's, if any.
    pub fn family(&self, family: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.family == family)
    }

    /// Messages per trial and size of `family`.
    pub fn messages_for(&self, family: &str) -> u32 {
        self.family(family)
            .and_then(|f| f.messages)
            .unwrap_or(self.messages)
    }

    /// Sizes of `family`, as `--sizes` spells them.
    pub fn sizes_for(&self, family: &str) -> &'static str {
        self.family(family)
            .and_then(|f| f.sizes)
            .unwrap_or(self.sizes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_spells_each_setting_as_one_flag_and_its_value() {
        let pass = Pass {
            sizes: "8B,100",
            workloads: "seed,bcast",
            placements: "split",
            trials: 3,
            secondary_trials: None,
            messages: 200,
            families: vec![Family {
                sizes: Some("100"),
                transports: Some("uds:pipe"),
                ..Family::named("bcast")
            }],
            stream_min_ms: None,
            warmup_ms: 10,
            codecs: None,
            size_floors_only: true,
            transports: Some("uds,pipe"),
        };
        assert_eq!(
            pass.args().join(" "),
            "--sizes 8B,100 --workload seed,bcast --placement split --trials 3 \
             --messages 200 --sizes-for bcast=100 --transports-for bcast=uds:pipe \
             --warmup-ms 10 --floors sizes --transport uds,pipe"
        );
        assert_eq!(pass.messages_for("bcast"), 200);
        assert_eq!(pass.sizes_for("bcast"), "100");
        assert_eq!(pass.sizes_for("seed"), "8B,100");
        assert!(pass.runs("bcast") && !pass.runs("bcast2"));
    }
}
