#include "sched/policy/fair_picker.h"

#include <algorithm>
#include <limits>

namespace lrp::sched {

namespace {

constexpr double kNone = std::numeric_limits<double>::infinity();

// Position of `id` in the round that starts just after `last`: 0 for last + 1.
uint32_t distance_after(uint32_t last, uint32_t id) {
  return id - (last + 1);
}

}  // namespace

size_t FairPicker::lower_bound(uint32_t id) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), id,
                             [](const Entry& e, uint32_t key) { return e.id < key; });
  return static_cast<size_t>(it - entries_.begin());
}

FairPicker::Entry* FairPicker::find(uint32_t id) {
  const size_t i = lower_bound(id);
  return i < entries_.size() && entries_[i].id == id ? &entries_[i] : nullptr;
}

const FairPicker::Entry* FairPicker::find(uint32_t id) const {
  const size_t i = lower_bound(id);
  return i < entries_.size() && entries_[i].id == id ? &entries_[i] : nullptr;
}

bool FairPicker::add(uint32_t id, uint32_t weight) {
  if (weight == 0 || contains(id)) return false;
  entries_.insert(entries_.begin() + static_cast<ptrdiff_t>(lower_bound(id)),
                  Entry{.id = id, .weight = weight, .vt = floor_vt_});
  return true;
}

bool FairPicker::set_weight(uint32_t id, uint32_t weight) {
  Entry* e = find(id);
  if (e == nullptr || weight == 0) return false;
  e->weight = weight;
  return true;
}

bool FairPicker::remove(uint32_t id) {
  const size_t i = lower_bound(id);
  if (i == entries_.size() || entries_[i].id != id) return false;
  entries_.erase(entries_.begin() + static_cast<ptrdiff_t>(i));
  return true;
}

void FairPicker::mark_ready(ReadinessView view) {
  for (Entry& e : entries_) e.ready = false;
  for (const Readiness& r : view)
    if (Entry* e = find(r.id); e != nullptr && is_ready(r)) e->ready = true;
}

// An application that was idle (nothing pending, or no room because it did
// not read) cannot bank credit for that time: it joins at the least virtual
// time of those that kept running, like CFS's min_vruntime. The floor only
// rises, so it also holds when every application went idle at once.
void FairPicker::join_newly_ready() {
  double running_min = kNone;
  for (const Entry& e : entries_)
    if (e.ready && e.was_ready) running_min = std::min(running_min, e.vt);
  if (running_min != kNone) floor_vt_ = std::max(floor_vt_, running_min);
  for (Entry& e : entries_) {
    if (e.ready && !e.was_ready) e.vt = std::max(e.vt, floor_vt_);
    e.was_ready = e.ready;
  }
}

const FairPicker::Entry* FairPicker::least_virtual_time() const {
  const Entry* best = nullptr;
  for (const Entry& e : entries_) {
    if (!e.ready) continue;
    if (best == nullptr || e.vt < best->vt ||
        (e.vt == best->vt &&
         distance_after(last_picked_, e.id) < distance_after(last_picked_, best->id)))
      best = &e;
  }
  return best;
}

std::optional<uint32_t> FairPicker::pick(ReadinessView view) {
  mark_ready(view);
  join_newly_ready();
  const Entry* best = least_virtual_time();
  if (best == nullptr) return std::nullopt;
  floor_vt_ = std::max(floor_vt_, best->vt);
  last_picked_ = best->id;
  return best->id;
}

void FairPicker::charge(uint32_t id, Nanos cpu) {
  Entry* e = find(id);
  if (e != nullptr && cpu > 0) e->vt += static_cast<double>(cpu) / e->weight;
}

double FairPicker::virtual_time(uint32_t id) const {
  const Entry* e = find(id);
  return e != nullptr ? e->vt : 0;
}

}  // namespace lrp::sched
