#include "runtime/cancel.h"

#include <utility>

namespace crossrank {

void CancelSource::request() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (requested_.exchange(true, std::memory_order_acq_rel)) return;
  for (const std::function<void()>& stop : stoppers_) stop();
}

CancelSource::Registration::Registration(CancelSource* source, std::function<void()> stop) : source_(source) {
  if (source_ == nullptr) return;
  std::lock_guard<std::mutex> lock(source_->mutex_);
  if (source_->requested()) stop();
  entry_ = source_->stoppers_.insert(source_->stoppers_.end(), std::move(stop));
}

CancelSource::Registration::~Registration() {
  if (source_ == nullptr) return;
  std::lock_guard<std::mutex> lock(source_->mutex_);
  source_->stoppers_.erase(entry_);
}

}  // namespace crossrank
