//! Churn: restarts, replacements (with IP reuse), scaling, rollouts and CronJob runs.

use super::*;

impl Synthetic {
    /// One churn operation, picked at random; returns what it was.
    pub fn churn(&mut self, store: &Store) -> Result<&'static str, ApiError> {
        self.operations += 1;
        let roll = self.rng.below(100);
        if self.deploys.is_empty() {
            return Ok("none");
        }
        let d = self.rng.below(self.deploys.len());
        match roll {
            // A container restarts (the commonest pod change).
            0..=39 => {
                let Some(p) = (!self.deploys[d].pods.is_empty())
                    .then(|| self.rng.below(self.deploys[d].pods.len()))
                else {
                    return Ok("none");
                };
                self.deploys[d].pods[p].restarts += 1;
                let slot = self.deploys[d].pods[p].clone();
                self.put_deploy_pod(store, &self.deploys[d], &slot, false)?;
                Ok("restart")
            }
            // A pod dies and its ReplicaSet replaces it (often on the same node: IP reuse).
            40..=64 => {
                if self.deploys[d].pods.is_empty() {
                    return Ok("none");
                }
                let p = self.rng.below(self.deploys[d].pods.len());
                let old = self.deploys[d].pods.remove(p);
                let namespace = self.deploys[d].namespace.clone();
                self.delete_pod(store, &namespace, &old.name)?;
                self.free(&old, false);
                let node = if self.rng.below(2) == 0 {
                    old.node
                } else {
                    self.rng.below(self.nodes.len())
                };
                let hash = self.deploys[d].hashes.last().cloned().unwrap_or_default();
                let slot = self.new_slot(&format!("{}-{hash}-", self.deploys[d].name), node, false);
                self.put_deploy_pod(store, &self.deploys[d], &slot, true)?;
                self.deploys[d].pods.push(slot);
                self.put_deploy_slices(store, d)?;
                Ok("replace")
            }
            // Scale up or down, toward the target pod count.
            65..=84 => {
                let up = self.pod_count() < self.target_pods
                    || (self.pod_count() == self.target_pods && self.rng.below(2) == 0);
                let by = 1 + self.rng.below(3);
                let replicas = if up {
                    self.deploys[d].replicas + by
                } else {
                    self.deploys[d].replicas.saturating_sub(by)
                };
                self.scale(store, d, replicas)?;
                Ok(if up { "scale_up" } else { "scale_down" })
            }
            // A rollout: a new ReplicaSet, every pod replaced.
            85..=94 => {
                self.rollout(store, d)?;
                Ok("rollout")
            }
            _ => {
                if self.crons.is_empty() {
                    return Ok("none");
                }
                let c = self.rng.below(self.crons.len());
                let mut cron = self.crons[c].clone();
                self.cron_run(store, &mut cron)?;
                self.crons[c] = cron;
                Ok("cron_run")
            }
        }
    }

    pub(super) fn scale(
        &mut self,
        store: &Store,
        d: usize,
        replicas: usize,
    ) -> Result<(), ApiError> {
        self.deploys[d].replicas = replicas;
        store.apply(self.deploy_object(&self.deploys[d]))?;
        let current = self.deploys[d].hashes.len() - 1;
        store.apply(self.rs_object(&self.deploys[d], current, replicas))?;
        while self.deploys[d].pods.len() > replicas {
            let old = self.deploys[d].pods.remove(0);
            let namespace = self.deploys[d].namespace.clone();
            self.delete_pod(store, &namespace, &old.name)?;
            self.free(&old, false);
        }
        while self.deploys[d].pods.len() < replicas {
            let slot = self.new_deploy_slot(d);
            self.put_deploy_pod(store, &self.deploys[d], &slot, true)?;
            self.deploys[d].pods.push(slot);
        }
        self.put_deploy_slices(store, d)
    }

    pub(super) fn rollout(&mut self, store: &Store, d: usize) -> Result<(), ApiError> {
        let hash = self.rng.hash();
        {
            let deploy = &mut self.deploys[d];
            deploy.revision += 1;
            deploy.hashes.push(hash);
            deploy.image = format!(
                "{}:1.{}.{}",
                deploy.image.rsplit_once(':').map_or("app", |(i, _)| i),
                deploy.revision,
                deploy.revision
            );
        }
        let replicas = self.deploys[d].replicas;
        store.apply(self.deploy_object(&self.deploys[d]))?;
        let current = self.deploys[d].hashes.len() - 1;
        store.apply(self.rs_object(&self.deploys[d], current, replicas))?;
        let old_pods = std::mem::take(&mut self.deploys[d].pods);
        let namespace = self.deploys[d].namespace.clone();
        for old in old_pods {
            let slot = self.new_deploy_slot(d);
            self.put_deploy_pod(store, &self.deploys[d], &slot, true)?;
            self.deploys[d].pods.push(slot);
            self.delete_pod(store, &namespace, &old.name)?;
            self.free(&old, false);
        }
        store.apply(self.rs_object(&self.deploys[d], current - 1, 0))?;
        // revisionHistoryLimit 2: the oldest ReplicaSet goes.
        while self.deploys[d].hashes.len() > 3 {
            let oldest = self.deploys[d].hashes.remove(0);
            let name = format!("{}-{oldest}", self.deploys[d].name);
            store.delete("apps/v1", "ReplicaSet", Some(&namespace), &name)?;
        }
        self.put_deploy_slices(store, d)
    }
}
