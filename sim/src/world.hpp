// The simulated world: clients opening connections (Poisson or a MARLLB trace) and the
// servers answering them. It emits the clients' packets toward the LB and reacts to the
// packets the LB forwards (the LB's choice of server reaches the server through the
// destination MAC). Discrete events on simulated nanoseconds; the driver decides how that
// time relates to the wall clock (real time, or lockstep with the LB and the agent).
// Owned by the world lcore alone.
#pragma once

#include "events.hpp"
#include "frame.hpp"
#include "servers.hpp"
#include "trace.hpp"
#include "work.hpp"

#include <cstdint>
#include <functional>
#include <queue>
#include <random>
#include <vector>

namespace marllb::sim {

struct WorldConfig {
    std::vector<double> capacities;
    // Poisson arrivals (used when trace is empty): rate in flows/s, work exponential with this
    // mean in core-seconds.
    double rate = 170;
    double mean_work_s = 0.05;
    std::string work = "exp"; // the shape of the work per flow, with mean_work_s (work.hpp)
    // Timed changes (events.hpp), times from start_ns: the world applies capacity and rate.
    std::vector<WorldEvent> events;
    // Trace replay: arrival = time / time_scale; work = n * seconds_per_iteration.
    std::vector<TraceEntry> trace;
    double time_scale = 1.0;
    double seconds_per_iteration = 6.5e-9;
    std::uint64_t ack_interval_ns = 10'000'000; // client ACKs while the response streams
    // false: ACKs start when a worker takes the request (before that the server sends nothing
    // to acknowledge); true: from the request on, even while it waits in the backlog.
    bool acks_from_request = false;
    std::uint64_t syn_timeout_ns = 1'000'000'000; // a SYN the LB dropped: the client gives up
    std::uint64_t arrivals_until_ns = UINT64_MAX; // no new flow after this
    std::uint64_t start_ns = 0;
    std::uint64_t seed = 1;
};

struct Packet {
    FlowKey key;
    std::uint8_t flags;
    std::uint32_t seq;
    std::uint64_t t_ns;
};

struct WorldCounters {
    std::uint64_t flows_started = 0, flows_completed = 0, resets = 0, syn_timeouts = 0;
    std::uint64_t packets_sent = 0, packets_received = 0, stray_received = 0;
};

class World {
public:
    explicit World(WorldConfig cfg);

    // Processes every event due at or before now; the clients' packets go to emit.
    void run_until(std::uint64_t now, const std::function<void(const Packet &)> &emit);
    // A frame the LB forwarded, seen by the servers at now.
    void on_forwarded(const std::uint8_t *frame, std::size_t len, std::uint64_t now);
    // The time of the next event, or UINT64_MAX when nothing is left to happen.
    [[nodiscard]] std::uint64_t next_event() const noexcept;

    [[nodiscard]] const WorldCounters &counters() const noexcept { return c_; }
    [[nodiscard]] std::uint64_t active_flows() const noexcept { return c_.flows_started - c_.flows_completed - c_.resets - c_.syn_timeouts; }
    [[nodiscard]] const std::vector<float> &fct_s() const noexcept { return fct_; } // every completed flow
    [[nodiscard]] std::size_t num_servers() const noexcept { return servers_.size(); }
    [[nodiscard]] const PsServer &server(std::size_t i) const noexcept { return servers_[i]; }
    // Utilisation of each server since the start: busy core-seconds / the core-seconds it had
    // (cores x elapsed when its capacity never changed).
    [[nodiscard]] std::vector<double> utilisation(std::uint64_t now);
    [[nodiscard]] bool arrivals_done() const noexcept { return arrivals_done_; }

private:
    enum class Ev : std::uint8_t { arrival, handshake, ack, completion, syn_timeout, scheduled };
    struct Event {
        std::uint64_t t;
        std::uint64_t order; // FIFO among equal times: runs are reproducible
        Ev type;
        std::uint32_t id;    // flow slot, or server for completion
        std::uint64_t tag;   // flow generation, or server epoch
        bool operator>(const Event &o) const noexcept { return t != o.t ? t > o.t : order > o.order; }
    };
    struct Flow {
        FlowKey key;
        std::uint64_t gen = 0;
        std::uint64_t syn_ns = 0;
        double work_s = 0;
        int server = -1;
        std::uint32_t seq = 0;
        bool live = false, requested = false;
    };

    void push(std::uint64_t t, Ev type, std::uint32_t id, std::uint64_t tag) { q_.push({t, order_++, type, id, tag}); }
    void schedule_next_arrival(std::uint64_t after);
    void schedule_completion(std::uint32_t server);
    void finish(std::uint32_t slot);
    void send(Flow &f, std::uint8_t flags, std::uint64_t t, const std::function<void(const Packet &)> &emit);

    void apply(const WorldEvent &e, std::uint64_t now);

    WorldConfig cfg_;
    WorkDist work_;
    std::vector<PsServer> servers_;
    std::vector<Flow> flows_;
    std::vector<std::uint32_t> free_;
    std::priority_queue<Event, std::vector<Event>, std::greater<Event>> q_;
    std::uint64_t order_ = 0;
    std::mt19937_64 rng_;
    std::size_t trace_pos_ = 0;
    std::uint64_t arrival_gen_ = 0; // the arrival event of another generation is stale (a rate event)
    bool arrivals_done_ = false;
    std::vector<float> fct_;
    WorldCounters c_;
};

} // namespace marllb::sim
