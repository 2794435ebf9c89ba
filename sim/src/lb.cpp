#include "lb.hpp"

#include <algorithm>
#include <stdexcept>

namespace marllb::sim {

std::string_view describe(Policy p) noexcept {
    switch (p) {
    case Policy::ecmp: return "ecmp";
    case Policy::wcmp: return "wcmp";
    case Policy::lsq: return "lsq";
    case Policy::sed: return "sed";
    case Policy::agent_sed: return "agent-sed";
    case Policy::agent_alias: return "agent-alias";
    }
    return "?";
}

bool parse_policy(std::string_view s, Policy &out) noexcept {
    if (s == "ecmp") out = Policy::ecmp;
    else if (s == "wcmp") out = Policy::wcmp;
    else if (s == "lsq") out = Policy::lsq;
    else if (s == "sed") out = Policy::sed;
    else if (s == "agent" || s == "agent-sed") out = Policy::agent_sed;
    else if (s == "agent-alias") out = Policy::agent_alias;
    else return false;
    return true;
}

LoadBalancer::LoadBalancer(LbConfig cfg)
    : cfg_(std::move(cfg)), n_(unsigned(cfg_.capacities.size())),
      table_(cfg_.buckets_log2, cfg_.flow_timeout_ns), rng_(cfg_.seed), n_on_(n_),
      raw_(std::make_unique<shm::ReservoirData>()), weights_(n_), alias_(MARLLB_MAX_AS) {
    if (n_ == 0 || n_ > MARLLB_MAX_AS)
        throw std::invalid_argument("the LB needs between 1 and 64 servers, got " + std::to_string(n_));
    for (double c : cfg_.capacities)
        if (!(c > 0)) throw std::invalid_argument("server capacities must be > 0 cores");
    for (unsigned s = 0; s < n_; ++s) {
        fct_.push_back(std::make_unique<Reservoir>(&raw_->fct[s]));
        dur_.push_back(std::make_unique<Reservoir>(&raw_->flow_duration[s]));
    }
    static_weights_.assign(cfg_.capacities.begin(), cfg_.capacities.end());
    set_weights(static_weights_.data(), nullptr);
}

void LoadBalancer::set_weights(const float *w, const marllb_alias_entry_t *alias) noexcept {
    std::copy(w, w + n_, weights_.begin());
    if (alias) std::copy(alias, alias + n_, alias_.begin());
    else marllb_alias_build(weights_.data(), n_, alias_.data());
}

void LoadBalancer::apply_action(const shm::MsgIn &a) noexcept {
    set_weights(a.weights, a.alias_table);
    in_fallback_ = false;
    ++c_.actions_applied;
}

void LoadBalancer::agent_lost() noexcept {
    if (in_fallback_) return;
    in_fallback_ = true;
    ++c_.fallbacks;
    if (cfg_.fallback == Fallback::static_weights) set_weights(static_weights_.data(), nullptr);
}

int LoadBalancer::pick(std::uint64_t hash) noexcept {
    switch (cfg_.policy) {
    case Policy::ecmp: return int((hash >> 32) % n_);
    case Policy::wcmp:
    case Policy::agent_alias: return int(marllb_alias_sample(alias_.data(), n_, marllb_rand64(&rng_)));
    case Policy::lsq: {
        unsigned best = 0;
        for (unsigned s = 1; s < n_; ++s)
            if (n_on_[s] < n_on_[best]) best = s;
        return int(best);
    }
    case Policy::sed:
    case Policy::agent_sed: {
        // argmin (n + 1) / w, compared as (n_a + 1) * w_b < (n_b + 1) * w_a; w = 0 never wins.
        const float *w = cfg_.policy == Policy::sed ? static_weights_.data() : weights_.data();
        int best = -1;
        for (unsigned s = 0; s < n_; ++s) {
            if (!(w[s] > 0)) continue;
            if (best < 0 || float(n_on_[s] + 1) * w[best] < float(n_on_[best] + 1) * w[s]) best = int(s);
        }
        return best;
    }
    }
    return -1;
}

void LoadBalancer::end_flow(FlowEntry &e, std::uint64_t now_ns, bool with_sample) noexcept {
    if (with_sample)
        fct_[e.server]->add(float(double(now_ns - e.syn_ns) * 1e-9), now_ns, cfg_.reservoir_mode, marllb_rand64(&rng_), cfg_.features);
    if (e.state == FlowState::on) --n_on_[e.server];
    e.state = FlowState::free;
}

int LoadBalancer::process(std::uint8_t *frame, std::size_t len, std::uint64_t now) noexcept {
    const Parsed p = parse_frame(frame, len);
    return process_parsed(frame, p, flow_hash(p.key), now);
}

int LoadBalancer::process_parsed(std::uint8_t *frame, const Parsed &p, std::uint64_t hash, std::uint64_t now) noexcept {
    ++c_.packets;
    if (p.drop != Drop::none) {
        ++c_.drops[std::size_t(p.drop)];
        return -1;
    }
    return handle(frame, p, hash, now);
}

void LoadBalancer::process_burst(std::uint8_t *const *frames, const std::uint16_t *lens, unsigned n, std::uint64_t now,
                                 const std::uint64_t *times, int *server) noexcept {
    constexpr unsigned kMaxBurst = 64;
    Parsed p[kMaxBurst];
    std::uint64_t h[kMaxBurst];
    n = n > kMaxBurst ? kMaxBurst : n;
    for (unsigned i = 0; i < n; ++i) {
        p[i] = parse_frame(frames[i], lens[i]);
        h[i] = flow_hash(p[i].key);
        if (p[i].drop == Drop::none) {
            FlowBucket &b = table_.bucket(h[i]);
            __builtin_prefetch(&b.e[0]);
            __builtin_prefetch(&b.e[2]);
        }
    }
    c_.packets += n;
    for (unsigned i = 0; i < n; ++i) {
        if (p[i].drop != Drop::none) {
            ++c_.drops[std::size_t(p[i].drop)];
            server[i] = -1;
            continue;
        }
        server[i] = handle(frames[i], p[i], h[i], times ? times[i] : now);
    }
}

int LoadBalancer::handle(std::uint8_t *frame, const Parsed &p, std::uint64_t h, std::uint64_t now) noexcept {
    FlowBucket &b = table_.bucket(h);
    FlowEntry *e = table_.find(b, p.key);
    if (e && table_.expired(*e, now)) { // idle past the timeout: gone, counted off without a sample
        end_flow(*e, now, false);
        ++c_.flows_expired;
        e = nullptr;
    }
    const std::uint8_t f = p.tcp_flags;
    const bool syn = (f & (kTcpSyn | kTcpAck | kTcpRst)) == kTcpSyn;
    if (syn) {
        if (e && e->state == FlowState::syn) { // a retransmitted SYN keeps its server
            e->last_ns = now;
            set_server_mac(frame, e->server);
            ++c_.forwarded;
            return e->server;
        }
        if (e) end_flow(*e, now, false); // the tuple is reused by a new connection
        else if ((e = table_.claim(b, now)) != nullptr && e->state != FlowState::free) {
            end_flow(*e, now, false);
            ++c_.flows_expired;
        }
        if (!e) {
            ++c_.drops[std::size_t(Drop::table_full)];
            return -1;
        }
        const int s = pick(h);
        if (s < 0) {
            ++c_.drops[std::size_t(Drop::no_server)];
            return -1;
        }
        *e = FlowEntry{p.key, FlowState::syn, std::uint8_t(s), 0, now, now};
        ++c_.flows;
        set_server_mac(frame, unsigned(s));
        ++c_.forwarded;
        return s;
    }
    if (!e) {
        ++c_.drops[std::size_t(Drop::unknown_flow)];
        return -1;
    }
    e->last_ns = now;
    const unsigned s = e->server;
    if (f & (kTcpRst | kTcpFin)) { // MARLLB's clients close with RST|ACK: FCT sample, flow off
        end_flow(*e, now, true);
        ++c_.flows_ended;
    } else if (f & kTcpAck) {
        if (e->state == FlowState::syn) {
            if (!(f & kTcpPsh)) { // the first pure ACK: the flow is on
                e->state = FlowState::on;
                ++n_on_[s];
            }
        } else { // later ACKs: a flow-duration sample
            dur_[s]->add(float(double(now - e->syn_ns) * 1e-9), now, cfg_.reservoir_mode, marllb_rand64(&rng_), cfg_.features);
        }
    }
    set_server_mac(frame, s);
    ++c_.forwarded;
    return int(s);
}

void LoadBalancer::observe(std::uint64_t now, shm::MsgOut &m) noexcept {
    m.timestamp_us = 0;
    m.num_active_as = n_;
    m.active_as_bitmap = n_ == 64 ? ~std::uint64_t(0) : (std::uint64_t(1) << n_) - 1;
    for (unsigned s = 0; s < n_; ++s) {
        m.as_stats[s].n_flow_on = n_on_[s];
        const Features a = fct_[s]->features(now, cfg_.features);
        const Features d = dur_[s]->features(now, cfg_.features);
        std::copy(a.begin(), a.end(), m.as_stats[s].reservoir_features + MARLLB_FCT_MEAN);
        std::copy(d.begin(), d.end(), m.as_stats[s].reservoir_features + MARLLB_DURATION_MEAN);
    }
    for (unsigned s = n_; s < MARLLB_MAX_AS; ++s) m.as_stats[s] = {};
    // At most one reservoir takes a new decay epoch per publish (see features.hpp).
    for (unsigned k = 0; k < 2 * n_; ++k) {
        const unsigned i = renew_next_++ % (2 * n_);
        Reservoir &r = i < n_ ? *fct_[i] : *dur_[i - n_];
        if (r.renew_epoch_if_old(now, cfg_.features)) break;
    }
}

} // namespace marllb::sim
