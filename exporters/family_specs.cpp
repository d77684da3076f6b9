#include "exporters/family_specs.h"

#include <algorithm>
#include <array>

namespace lrp::exporters {

namespace {

using prometheus::MetricType;
constexpr auto kCounter = MetricType::Counter;
constexpr auto kGauge = MetricType::Gauge;
constexpr auto kHistogram = MetricType::Histogram;

constexpr std::array kSpecs{
    // Receive path, per socket.
    FamilySpec{"lrp_datagrams_delivered_total", kCounter, Scope::Socket, "",
               "Datagrams that passed protocol processing for the socket (in the eager baseline "
               "some are dropped after it, as app_queue_full)."},
    FamilySpec{"lrp_bytes_delivered_total", kCounter, Scope::Socket, "",
               "UDP payload bytes of the delivered datagrams."},
    FamilySpec{"lrp_drops_total", kCounter, Scope::Mixed, "reason,detail",
               "Datagrams dropped, by reason: ring_full (socket RX ring full, kernel tail drop), "
               "shed (dropped by XDP while the application's shed flag was up), fill_empty (no "
               "free frame in the fill ring), invalid (failed protocol checks; detail says "
               "which), app_queue_full (eager baseline: dropped after the work, per application)."},
    FamilySpec{"lrp_socket_rx_ring_frames", kGauge, Scope::Socket, "",
               "Frames waiting in the socket's RX ring."},
    FamilySpec{"lrp_held_cap_reached_total", kCounter, Scope::Socket, "",
               "Visits cut short because the socket's owner held its cap of frames."},
    FamilySpec{"lrp_partial_checksums_total", kCounter, Scope::Socket, "",
               "Datagrams delivered on a partial UDP checksum (a local sender's checksum "
               "offload on veth, checked as the kernel does)."},
    FamilySpec{"lrp_xdp_packets_total", kCounter, Scope::Socket, "outcome",
               "Packets the XDP program matched to the socket, by outcome: redirected, shed, "
               "malformed (passed to the kernel), empty (socket gone, passed to the kernel)."},
    // Transmit path, per socket.
    FamilySpec{"lrp_datagrams_sent_total", kCounter, Scope::Socket, "",
               "Datagrams queued for transmit."},
    FamilySpec{"lrp_bytes_sent_total", kCounter, Scope::Socket, "",
               "UDP payload bytes queued for transmit."},
    FamilySpec{"lrp_send_would_block_total", kCounter, Scope::Socket, "",
               "Sends refused because the TX ring or the socket's transmit budget was full."},
    FamilySpec{"lrp_tx_completed_total", kCounter, Scope::Socket, "",
               "Transmitted frames returned on the completion ring."},
    // The kernel's own AF_XDP statistics that are not drops of received datagrams.
    FamilySpec{"lrp_xsk_rx_invalid_descs_total", kCounter, Scope::Socket, "",
               "Kernel XDP_STATISTICS rx_invalid_descs."},
    FamilySpec{"lrp_xsk_tx_invalid_descs_total", kCounter, Scope::Socket, "",
               "Kernel XDP_STATISTICS tx_invalid_descs."},
    FamilySpec{"lrp_xsk_tx_ring_empty_descs_total", kCounter, Scope::Socket, "",
               "Kernel XDP_STATISTICS tx_ring_empty_descs."},
    // Applications.
    FamilySpec{"lrp_app_weight", kGauge, Scope::App, "", "The application's scheduling weight."},
    FamilySpec{"lrp_protocol_cpu_seconds_total", kCounter, Scope::App, "",
               "CPU time of protocol work charged to the application."},
    FamilySpec{"lrp_app_visits_total", kCounter, Scope::App, "",
               "Times the scheduler did protocol work for the application."},
    FamilySpec{"lrp_app_frames_total", kCounter, Scope::App, "",
               "Frames taken from the application's RX rings."},
    FamilySpec{"lrp_app_datagrams_queued_total", kCounter, Scope::App, "",
               "Datagrams put in the application's receive queue (or returned to its receive "
               "call when it runs its own protocol work)."},
    FamilySpec{"lrp_app_receive_queue_datagrams", kGauge, Scope::App, "",
               "Datagrams in the application's receive queue now."},
    FamilySpec{"lrp_app_skipped_full_total", kCounter, Scope::App, "",
               "Engine passes that found frames for the application but no room in its queue."},
    FamilySpec{"lrp_app_shed", kGauge, Scope::App, "",
               "1 while XDP drops the application's traffic at the first touch."},
    FamilySpec{"lrp_app_shed_changes_total", kCounter, Scope::App, "direction",
               "Times the shed flag was raised or lowered."},
    FamilySpec{"lrp_batch_size", kHistogram, Scope::App, "",
               "Datagrams delivered per visit of the scheduler."},
    FamilySpec{"lrp_receive_queue_depth", kHistogram, Scope::App, "",
               "Receive-queue occupancy (datagrams) seen at each visit."},
    // The engine: frames, modes, passes.
    FamilySpec{"lrp_frames", kGauge, Scope::Engine, "place",
               "UMEM frames by place: free, fill (fill ring), rx (RX rings), held (by "
               "applications), tx (TX and completion rings)."},
    FamilySpec{"lrp_frame_violations_total", kCounter, Scope::Engine, "",
               "Frame moves that did not match the frame's recorded place (should stay 0)."},
    FamilySpec{"lrp_fill_ring_empty_descs_total", kCounter, Scope::Engine, "",
               "Times the kernel found the shared fill ring empty (kernel XDP_STATISTICS "
               "rx_fill_ring_empty_descs, one count per UMEM)."},
    FamilySpec{"lrp_engine_mode", kGauge, Scope::Engine, "",
               "Current mode of the engine: 0 interrupt (sleeping between wake-ups), 1 polling."},
    FamilySpec{"lrp_engine_configured_mode", kGauge, Scope::Engine, "mode,threading",
               "Always 1; the labels say the configured mode and threading."},
    FamilySpec{"lrp_engine_mode_switches_total", kCounter, Scope::Engine, "direction",
               "Switches between interrupt and polling mode, by direction: to_poll, "
               "to_interrupt."},
    FamilySpec{"lrp_engine_poll_passes_total", kCounter, Scope::Engine, "",
               "Passes of the engine over its applications."},
    FamilySpec{"lrp_engine_empty_passes_total", kCounter, Scope::Engine, "",
               "Passes that found no work."},
    FamilySpec{"lrp_engine_wakeups_total", kCounter, Scope::Engine, "",
               "Wake-ups from sleep by traffic or an application making room."},
    FamilySpec{"lrp_engine_sleeps_total", kCounter, Scope::Engine, "",
               "Times the engine went to sleep waiting for events."},
    FamilySpec{"lrp_engine_deferrals_total", kCounter, Scope::Engine, "",
               "Short timer sleeps that let arrivals batch before the engine looks again "
               "(adaptive mode)."},
    FamilySpec{"lrp_engine_core_yields_total", kCounter, Scope::Engine, "",
               "Times a thread polling on a core yielded it to a sleeping thread whose work had "
               "arrived."},
    FamilySpec{"lrp_engine_answer_spins_total", kCounter, Scope::Engine, "outcome",
               "Spins for an answer due through the engine instead of a sleep, by outcome: "
               "answered, missed (adaptive mode)."},
    FamilySpec{"lrp_engine_idle_poll_cpu_seconds_total", kCounter, Scope::Engine, "",
               "CPU time of passes that found nothing, charged to no application."},
    FamilySpec{"lrp_engine_cpu_seconds_total", kCounter, Scope::Engine, "",
               "CPU time of the dedicated engine thread (dedicated threading only)."},
    FamilySpec{"lrp_exporter_read_errors_total", kCounter, Scope::Engine, "",
               "Counters the exporter could not read at a scrape (a socket closed meanwhile, a "
               "failed system call)."},
    // The XDP program, per interface.
    FamilySpec{"lrp_xdp_seen_total", kCounter, Scope::Interface, "", "Frames the XDP program saw."},
    FamilySpec{"lrp_xdp_redirected_total", kCounter, Scope::Interface, "",
               "Frames redirected to an AF_XDP socket."},
    FamilySpec{"lrp_xdp_shed_total", kCounter, Scope::Interface, "",
               "Frames dropped at XDP by a shed flag."},
    FamilySpec{"lrp_xdp_pass_total", kCounter, Scope::Interface, "reason",
               "Frames passed to the kernel stack, by reason: not_ip, not_udp, fragment, "
               "malformed, ipv6_ext, no_flow, slot_empty, queue (a queue lrp does not serve), "
               "other_vlan, other_mac, not_local (not addressed to this host), not_joined "
               "(multicast to a group no socket joined)."},
};

}  // namespace

std::span<const FamilySpec> family_specs() {
  return kSpecs;
}

const FamilySpec* find_family_spec(std::string_view name) {
  auto it = std::find_if(kSpecs.begin(), kSpecs.end(),
                         [&](const FamilySpec& s) { return s.name == name; });
  return it == kSpecs.end() ? nullptr : &*it;
}

}  // namespace lrp::exporters
