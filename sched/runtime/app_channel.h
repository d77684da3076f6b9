// How an application outside the engine's process (an lrpd client) exchanges
// datagrams with a queue's engine thread: delivered datagrams are copied out
// to it, and its transmit queue is drained into the engine. The scheduler
// asks for room before it spends any protocol work on the application, and
// times and charges the transmit work as it does the receive work.
// Applications in the engine's own process have no channel: they read the
// scheduler's zero-copy queue.
#pragma once

#include <cstddef>
#include <span>

#include "lrp/engine.h"

namespace lrp::sched {

class AppChannel {
 public:
  virtual ~AppChannel() = default;
  // Datagrams the application can take now.
  virtual size_t room() const = 0;
  // Takes datagrams after their protocol work; their frames are the
  // channel's to release (through engine.release) once copied. Returns how
  // many it took; the scheduler releases the rest and counts them dropped.
  virtual size_t deliver(Engine& engine, std::span<const Datagram> datagrams) = 0;
  // After a pass delivered something: wake the application if it sleeps.
  virtual void notify() = 0;
  // Sends up to `budget` datagrams the application queued for transmit on
  // this engine; returns how many were handled (sent or refused).
  virtual size_t transmit(Engine& engine, size_t budget) = 0;
  // Whether the application has datagrams queued for transmit.
  virtual bool transmit_pending() const = 0;
  // Readable when the application made room or queued datagrams for
  // transmit while the engine slept (-1: none); the engine sleeps on it.
  virtual int wake_fd() const = 0;
  // The engine woke on wake_fd(): clears it, so that what rang it never
  // wakes it again.
  virtual void drain_wake() = 0;
};

}  // namespace lrp::sched
