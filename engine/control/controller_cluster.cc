// SPDX-License-Identifier: Apache-2.0
// The Controller's side of a cluster: it shows the member's state and passes drain on or off.
// Membership, announcements and routes are the cluster agent's (engine/cluster).
#include "xlb/controller.h"

namespace xlb {

void Controller::setCluster(ClusterPort* cluster) {
  std::lock_guard lock(mutex_);
  cluster_ = cluster;
}

std::optional<ClusterView> Controller::clusterView() const {
  std::lock_guard lock(mutex_);
  if (cluster_ == nullptr) return std::nullopt;
  return cluster_->view();
}

std::optional<ClusterView> Controller::setClusterDraining(bool on) {
  std::lock_guard lock(mutex_);
  if (cluster_ == nullptr) return std::nullopt;
  cluster_->setDraining(on);
  return cluster_->view();
}

}  // namespace xlb
