#include "world.hpp"

#include <cmath>
#include <stdexcept>

namespace marllb::sim {

namespace {
constexpr std::uint32_t kMaxFlows = 1u << 24; // a client address per slot: 10.0.0.0/8
}

World::World(WorldConfig cfg) : cfg_(std::move(cfg)), rng_(cfg_.seed) {
    if (cfg_.capacities.empty()) throw std::invalid_argument("the world needs at least one server");
    if (cfg_.trace.empty() && !(cfg_.rate > 0 && cfg_.mean_work_s > 0))
        throw std::invalid_argument("Poisson traffic needs a rate > 0 and a mean work > 0");
    if (!(cfg_.time_scale > 0)) throw std::invalid_argument("the trace time scale must be > 0");
    auto work = WorkDist::parse(cfg_.work, cfg_.mean_work_s);
    if (!work) throw std::invalid_argument(work.error().message);
    work_ = *work;
    for (double c : cfg_.capacities) servers_.emplace_back(c, cfg_.start_ns);
    for (std::size_t i = 0; i < cfg_.events.size(); ++i) {
        const WorldEvent &e = cfg_.events[i];
        if (e.kind == WorldEvent::Kind::capacity && (e.server < 0 || std::size_t(e.server) >= servers_.size()))
            throw std::invalid_argument("a capacity event names server " + std::to_string(e.server) + ", which does not exist");
        if (e.kind == WorldEvent::Kind::rate && !cfg_.trace.empty())
            throw std::invalid_argument("a rate event changes Poisson arrivals: a trace replay has none");
        if (e.kind == WorldEvent::Kind::capacity || e.kind == WorldEvent::Kind::rate)
            push(cfg_.start_ns + std::uint64_t(std::llround(e.time_s * 1e9)), Ev::scheduled, std::uint32_t(i), 0);
    }
    schedule_next_arrival(cfg_.start_ns);
}

void World::schedule_next_arrival(std::uint64_t after) {
    std::uint64_t t;
    if (!cfg_.trace.empty()) {
        if (trace_pos_ >= cfg_.trace.size()) { arrivals_done_ = true; return; }
        t = cfg_.start_ns + std::uint64_t(cfg_.trace[trace_pos_].time_s / cfg_.time_scale * 1e9);
    } else {
        std::exponential_distribution<double> gap(cfg_.rate);
        const double gap_ns = gap(rng_) * 1e9;
        // A gap past the end of arrivals (a tiny rate can draw one beyond 2^64 ns) ends them
        // without converting it.
        if (!(gap_ns < double(cfg_.arrivals_until_ns - after))) { arrivals_done_ = true; return; }
        t = after + std::uint64_t(gap_ns);
    }
    if (t > cfg_.arrivals_until_ns) { arrivals_done_ = true; return; }
    push(t, Ev::arrival, 0, arrival_gen_);
}

void World::schedule_completion(std::uint32_t s) {
    const std::uint64_t t = servers_[s].next_completion();
    if (t != UINT64_MAX) push(t, Ev::completion, s, servers_[s].epoch());
}

void World::send(Flow &f, std::uint8_t flags, std::uint64_t t, const std::function<void(const Packet &)> &emit) {
    emit(Packet{f.key, flags, f.seq++, t});
    ++c_.packets_sent;
}

void World::finish(std::uint32_t slot) {
    flows_[slot].live = false;
    ++flows_[slot].gen;
    free_.push_back(slot);
}

std::uint64_t World::next_event() const noexcept { return q_.empty() ? UINT64_MAX : q_.top().t; }

void World::run_until(std::uint64_t now, const std::function<void(const Packet &)> &emit) {
    while (!q_.empty() && q_.top().t <= now) {
        const Event ev = q_.top();
        q_.pop();
        switch (ev.type) {
        case Ev::arrival: {
            if (ev.tag != arrival_gen_) break; // drawn at a rate a rate event replaced
            double work;
            if (!cfg_.trace.empty()) work = double(cfg_.trace[trace_pos_++].n) * cfg_.seconds_per_iteration;
            else work = work_.sample(rng_);
            std::uint32_t slot;
            if (!free_.empty()) { slot = free_.back(); free_.pop_back(); }
            else if (flows_.size() < kMaxFlows) { slot = std::uint32_t(flows_.size()); flows_.emplace_back(); }
            else { schedule_next_arrival(ev.t); break; } // 16 M flows in flight: the client waits
            Flow &f = flows_[slot];
            // A distinct 5-tuple per flow: the slot picks the client address, the generation the port.
            f.key = FlowKey{0x0A000000u | slot, kVip, std::uint16_t(1024 + f.gen % 64000), kVipPort};
            f.syn_ns = ev.t;
            f.work_s = work;
            f.server = -1;
            f.seq = std::uint32_t(rng_());
            f.live = true;
            f.requested = false;
            ++c_.flows_started;
            send(f, kTcpSyn, ev.t, emit);
            push(ev.t + cfg_.syn_timeout_ns, Ev::syn_timeout, slot, f.gen);
            schedule_next_arrival(ev.t);
            break;
        }
        case Ev::handshake: { // SYN-ACK received: the client completes the handshake and sends its request
            Flow &f = flows_[ev.id];
            if (!f.live || f.gen != ev.tag) break;
            send(f, kTcpAck, ev.t, emit);
            send(f, kTcpPsh | kTcpAck, ev.t, emit);
            break;
        }
        case Ev::ack: { // the response is streaming: the client acknowledges it
            Flow &f = flows_[ev.id];
            if (!f.live || f.gen != ev.tag) break;
            send(f, kTcpAck, ev.t, emit);
            push(ev.t + cfg_.ack_interval_ns, Ev::ack, ev.id, ev.tag);
            break;
        }
        case Ev::completion: {
            PsServer &s = servers_[ev.id];
            if (ev.tag != s.epoch()) break; // superseded by a later arrival or completion
            std::uint32_t started = UINT32_MAX;
            const std::uint32_t slot = s.complete(ev.t, &started);
            if (started != UINT32_MAX && !cfg_.acks_from_request) // the response starts streaming now
                push(ev.t + cfg_.ack_interval_ns, Ev::ack, started, flows_[started].gen);
            Flow &f = flows_[slot];
            fct_.push_back(float(double(ev.t - f.syn_ns) * 1e-9));
            ++c_.flows_completed;
            send(f, kTcpRst | kTcpAck, ev.t, emit); // MARLLB's clients close with SO_LINGER 0
            finish(slot);
            schedule_completion(ev.id);
            break;
        }
        case Ev::scheduled: apply(cfg_.events[ev.id], ev.t); break;
        case Ev::syn_timeout: {
            Flow &f = flows_[ev.id];
            if (!f.live || f.gen != ev.tag || f.server >= 0) break;
            ++c_.syn_timeouts;
            finish(ev.id);
            break;
        }
        }
    }
}

void World::on_forwarded(const std::uint8_t *frame, std::size_t len, std::uint64_t now) {
    ++c_.packets_received;
    const int s = server_from_mac(frame, len);
    const Parsed p = parse_frame(frame, len);
    const std::uint32_t slot = p.key.src_ip & 0x00FFFFFFu;
    if (s < 0 || std::size_t(s) >= servers_.size() || p.drop != Drop::none || slot >= flows_.size() ||
        !flows_[slot].live || !(flows_[slot].key == p.key)) {
        ++c_.stray_received;
        return;
    }
    Flow &f = flows_[slot];
    PsServer &server = servers_[std::size_t(s)];
    if ((p.tcp_flags & (kTcpSyn | kTcpAck)) == kTcpSyn) {
        if (f.server >= 0) return; // a retransmission; already admitted
        if (!server.admit()) { // backlog full: the server resets the connection
            ++c_.resets;
            finish(slot);
            return;
        }
        f.server = s;
        push(now, Ev::handshake, slot, f.gen);
    } else if ((p.tcp_flags & kTcpPsh) && !f.requested && f.server == s) {
        f.requested = true;
        const bool serving = server.request(slot, f.work_s, now);
        schedule_completion(std::uint32_t(s));
        if (serving || cfg_.acks_from_request) push(now + cfg_.ack_interval_ns, Ev::ack, slot, f.gen);
    }
}

void World::apply(const WorldEvent &e, std::uint64_t now) {
    if (e.kind == WorldEvent::Kind::rate) {
        // Gaps are exponential (memoryless): the arrival pending at the old rate is dropped and
        // the next one drawn at the new rate from now; arrivals that had ended start again.
        cfg_.rate = e.value;
        ++arrival_gen_;
        arrivals_done_ = false;
        schedule_next_arrival(now);
        return;
    }
    servers_[std::size_t(e.server)].set_cores(e.value, now);
    schedule_completion(std::uint32_t(e.server)); // the old completion event is stale (epoch)
}

std::vector<double> World::utilisation(std::uint64_t now) {
    std::vector<double> u;
    for (auto &s : servers_) {
        s.advance(now);
        const double had = s.had_core_seconds(now);
        u.push_back(had > 0 ? s.busy_core_seconds() / had : 0);
    }
    return u;
}

} // namespace marllb::sim
