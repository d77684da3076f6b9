#include "sched/policy/fair_picker.h"

#include <limits>

namespace lrp::sched {

static bool is_ready(const Readiness& r) { return r.pending > 0 && r.room > 0; }

FairPicker::Entry* FairPicker::entry(uint32_t id) {
  return id < entries_.size() && entries_[id].present ? &entries_[id] : nullptr;
}

void FairPicker::add(uint32_t id, uint32_t weight, Nanos) {
  if (id >= entries_.size()) entries_.resize(id + 1);
  // Starts behind nobody: it takes the least virtual time among the others
  // so it neither waits for them nor gets credit for time it was absent.
  double start = std::numeric_limits<double>::max();
  for (const Entry& e : entries_)
    if (e.present && e.vt < start) start = e.vt;
  entries_[id] = Entry{true, weight == 0 ? 1 : weight,
                       start == std::numeric_limits<double>::max() ? 0 : start, false};
}

void FairPicker::remove(uint32_t id) {
  if (id < entries_.size()) entries_[id] = Entry{};
}

double FairPicker::min_ready_vt(std::span<const Readiness> view) const {
  double m = std::numeric_limits<double>::max();
  for (const Readiness& r : view) {
    if (r.id >= entries_.size() || !entries_[r.id].present) continue;
    const Entry& e = entries_[r.id];
    if (is_ready(r) && e.was_ready && e.vt < m) m = e.vt;
  }
  return m;
}

std::optional<uint32_t> FairPicker::pick(std::span<const Readiness> view) {
  // An application that just became ready cannot bank credit for the time it
  // was idle: it joins at the least virtual time of those already running.
  const double floor = min_ready_vt(view);
  for (const Readiness& r : view) {
    Entry* e = entry(r.id);
    if (e == nullptr) continue;
    const bool ready = is_ready(r);
    if (ready && !e->was_ready && floor != std::numeric_limits<double>::max() && e->vt < floor)
      e->vt = floor;
    e->was_ready = ready;
  }
  std::optional<uint32_t> best;
  double best_vt = 0;
  bool best_after_last = false;
  for (const Readiness& r : view) {
    const Entry* e = entry(r.id);
    if (e == nullptr || !is_ready(r)) continue;
    // Ties go round-robin: prefer the first id after the last one picked.
    const bool after_last = r.id > last_picked_;
    if (!best || e->vt < best_vt ||
        (e->vt == best_vt && after_last && (!best_after_last || r.id < *best)) ||
        (e->vt == best_vt && !after_last && !best_after_last && r.id < *best)) {
      best = r.id;
      best_vt = e->vt;
      best_after_last = after_last;
    }
  }
  if (best) last_picked_ = *best;
  return best;
}

void FairPicker::charge(uint32_t id, Nanos cpu) {
  Entry* e = entry(id);
  if (e != nullptr && cpu > 0) e->vt += static_cast<double>(cpu) / e->weight;
}

double FairPicker::virtual_time(uint32_t id) const {
  return id < entries_.size() ? entries_[id].vt : 0;
}

}  // namespace lrp::sched
