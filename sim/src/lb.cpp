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

std::string_view describe(LbModel m) noexcept { return m == LbModel::marllb ? "marllb" : "clean"; }

bool parse_lb_model(std::string_view s, LbModel &out) noexcept {
    if (s == "marllb") out = LbModel::marllb;
    else if (s == "clean") out = LbModel::clean;
    else return false;
    return true;
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
      table_(cfg_.buckets_log2 ? cfg_.buckets_log2 : cfg_.model == LbModel::marllb ? kMarllbBucketsLog2 : kCleanBucketsLog2,
             cfg_.flow_timeout_ns),
      rng_(cfg_.seed), n_on_(n_),
      raw_(std::make_unique<shm::ReservoirData>()),
      intake_(std::make_unique<ReservoirIntake[]>(2 * MARLLB_MAX_AS)), weights_(n_), alias_(MARLLB_MAX_AS) {
    if (n_ == 0 || n_ > MARLLB_MAX_AS)
        throw std::invalid_argument("the LB needs between 1 and 64 servers, got " + std::to_string(n_));
    for (double c : cfg_.capacities)
        if (!(c > 0)) throw std::invalid_argument("server capacities must be > 0 cores");
    if (cfg_.model == LbModel::marllb && cfg_.flow_timeout_ns % 1'000'000'000ull)
        throw std::invalid_argument("the marllb model keeps MARLLB's whole-second flow timeout");
    const bool zero_slots = cfg_.model == LbModel::marllb;
    for (unsigned s = 0; s < n_; ++s) {
        fct_.push_back(std::make_unique<Reservoir>(&raw_->fct[s], zero_slots, &intake_[s]));
        dur_.push_back(std::make_unique<Reservoir>(&raw_->flow_duration[s], zero_slots, &intake_[MARLLB_MAX_AS + s]));
    }
    static_weights_.assign(cfg_.capacities.begin(), cfg_.capacities.end());
    set_weights(static_weights_.data(), nullptr);
    build_maglev();
}

// MARLLB's new-flow table (lb.c:382-474): servers in address order, each with an offset and an
// odd skip from a hash of its address, take turns claiming the next free entry of their
// permutation until all 64 are taken. 64 entries over n servers: the first 64 mod n servers in
// that order get one entry more (7 servers: 10 entries against 9). The seed hash is the
// project's own (MARLLB's is VPP's xxhash of the address): the counts are the same, which
// entries a server holds is not.
void LoadBalancer::build_maglev() {
    struct Perm { unsigned last, skip; };
    std::array<Perm, MARLLB_MAX_AS> perm{};
    for (unsigned s = 0; s < n_; ++s) {
        std::uint64_t seed = 0x0A000101ull + s; // server s at 10.0.1.(s + 1), as MARLLB's testbed
        seed = (seed ^ (seed >> 31)) * 0x9E3779B97F4A7C15ull;
        seed = (seed ^ (seed >> 29)) * 0xBF58476D1CE4E5B9ull;
        seed ^= seed >> 32;
        perm[s] = {unsigned(seed >> 32) & (kMaglevLen - 1), (unsigned(seed) | 1) & (kMaglevLen - 1)};
    }
    std::array<bool, kMaglevLen> taken{};
    unsigned done = 0;
    while (done < kMaglevLen)
        for (unsigned s = 0; s < n_ && done < kMaglevLen; ++s) {
            unsigned slot;
            do { // an odd skip over 2^6 entries visits every one: this ends
                slot = perm[s].last;
                perm[s].last = (perm[s].last + perm[s].skip) & (kMaglevLen - 1);
            } while (taken[slot]);
            taken[slot] = true;
            maglev_[slot] = std::uint8_t(s);
            ++done;
        }
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

unsigned LoadBalancer::pick(std::uint64_t hash) noexcept {
    // SED and LSQ start from the hashed server and move only to a strictly lower score
    // (node.c:393-431), so ties keep the hash's spread instead of piling onto server 0.
    const unsigned start = hashed_server(hash);
    switch (cfg_.policy) {
    case Policy::ecmp: return start;
    case Policy::wcmp:
    case Policy::agent_alias: return marllb_alias_sample(alias_.data(), n_, marllb_rand64(&rng_));
    case Policy::lsq: {
        unsigned best = start;
        for (unsigned s = 0; s < n_; ++s)
            if (n_on_[s] < n_on_[best]) best = s;
        return best;
    }
    case Policy::sed:
    case Policy::agent_sed: {
        const float *w = cfg_.policy == Policy::sed ? static_weights_.data() : weights_.data();
        unsigned best = start;
        if (cfg_.model == LbModel::marllb) { // (n + 1) / (1e-9 + w) in f32: a zero weight scores 1e9 (n + 1)
            float best_score = float(n_on_[start] + 1) / (1e-9f + w[start]);
            for (unsigned s = 0; s < n_; ++s) {
                const float score = float(n_on_[s] + 1) / (1e-9f + w[s]);
                if (score < best_score) best = s, best_score = score;
            }
            return best;
        }
        // clean: (n_a + 1) w_b < (n_b + 1) w_a without a division; a zero weight never wins
        // unless every weight is zero (then the hashed server).
        for (unsigned s = 0; s < n_; ++s) {
            if (!(w[s] > 0)) continue;
            if (!(w[best] > 0) || float(n_on_[s] + 1) * w[best] < float(n_on_[best] + 1) * w[s]) best = s;
        }
        return best;
    }
    }
    return start;
}

void LoadBalancer::apply_drains(std::uint64_t now) noexcept {
    for (; next_drain_ < drains_.size() && now >= drains_[next_drain_].t_ns; ++next_drain_) {
        const DrainEvent &d = drains_[next_drain_];
        if (d.server >= n_) continue; // checked against the server count when the schedule was read
        drained_ = d.drained ? drained_ | (1ull << d.server) : drained_ & ~(1ull << d.server);
    }
}

unsigned LoadBalancer::replace_drained(unsigned s, std::uint64_t hash) const noexcept {
    unsigned best = n_;
    for (unsigned i = 0, start = hashed_server(hash); i < n_; ++i) {
        const unsigned c = (start + i) % n_;
        if ((drained_ >> c) & 1) continue;
        if (best == n_ || float(n_on_[c] + 1) * static_weights_[best] < float(n_on_[best] + 1) * static_weights_[c]) best = c;
    }
    return best == n_ ? s : best; // every server drained: nothing better to do
}

void LoadBalancer::end_flow(FlowEntry &e, std::uint64_t now_ns, bool with_sample) noexcept {
    if (with_sample) add_fct(e.server, double(now_ns - e.syn_ns) * 1e-9, now_ns);
    if (e.state == FlowState::on) --n_on_[e.server];
    e.state = FlowState::free;
}

namespace {
// Test build only (MARLLB_TEST_PLANT=lb_1.5x): a chain of dependent multiplies per packet, the
// slowdown the gate's LB rules must catch. Returns 0 (the chain's end is never 0 in practice).
[[maybe_unused]] inline unsigned planted_work(int server) noexcept {
#ifdef MARLLB_TEST_PLANT_LB_EXTRA_STEPS
    std::uint64_t x = std::uint64_t(server) | 1u;
    for (int i = 0; i < MARLLB_TEST_PLANT_LB_EXTRA_STEPS; ++i) {
        x = x * 0x9E3779B97F4A7C15ull + 1;
        asm volatile("" : "+r"(x));
    }
    return x == 0;
#else
    (void)server;
    return 0;
#endif
}
} // namespace

int LoadBalancer::process(std::uint8_t *frame, std::size_t len, std::uint64_t now) noexcept {
    const Parsed p = parse_frame(frame, len);
    const int server = process_parsed(frame, p, flow_hash(p.key), now);
    c_.packets += planted_work(server);
    return server;
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
    // Every frame's headers are asked for before the first is parsed: a frame's first load
    // is a cache miss when its buffer was last touched long ago (a pool of buffers larger than
    // the cache), and parsing the frames one after another would wait for each miss in turn
    // (as DPDK's l3fwd prefetches a burst's packet data ahead of its lookups). What parse_frame
    // reads ends at byte 47, the TCP flags behind a 20-byte IPv4 header: one cache line, or
    // two when the buffer starts late in a line.
    for (unsigned i = 0; i < n; ++i) {
        __builtin_prefetch(frames[i]);
        __builtin_prefetch(frames[i] + 47);
    }
    // The key is hashed from registers, then stored (frame.hpp says why not parse_frame).
    for (unsigned i = 0; i < n; ++i) {
        p[i].drop = frame_drop(frames[i], lens[i]);
        if (p[i].drop != Drop::none) {
            h[i] = 0;
            continue;
        }
        const FlowKey k = frame_key(frames[i]);
        h[i] = flow_hash(k);
        // Field by field: a whole-key copy went through a stack temporary, as above.
        p[i].key.src_ip = k.src_ip;
        p[i].key.dst_ip = k.dst_ip;
        p[i].key.src_port = k.src_port;
        p[i].key.dst_port = k.dst_port;
        p[i].tcp_flags = frame_tcp(frames[i])[13];
        FlowBucket &b = table_.bucket(h[i]);
        __builtin_prefetch(&b.e[0]);
        __builtin_prefetch(&b.e[2]);
    }
    c_.packets += n;
    for (unsigned i = 0; i < n; ++i) {
        if (p[i].drop != Drop::none) {
            ++c_.drops[std::size_t(p[i].drop)];
            server[i] = -1;
            continue;
        }
        server[i] = handle(frames[i], p[i], h[i], times ? times[i] : now);
        c_.packets += planted_work(server[i]);
    }
}

int LoadBalancer::handle(std::uint8_t *frame, const Parsed &p, std::uint64_t h, std::uint64_t now) noexcept {
    if (cfg_.model == LbModel::marllb) return handle_marllb(frame, p, h, now);
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
            return forward(frame, e->server);
        }
        if (e) end_flow(*e, now, false); // an ACKed tuple reused by a new connection
        else if ((e = table_.claim(b, now)) != nullptr && e->state != FlowState::free) {
            end_flow(*e, now, false);
            ++c_.flows_expired;
        }
        if (!e) { // the bucket holds four live flows: forwarded untracked, by the hash
            ++c_.untracked, ++c_.untracked_syns;
            return forward(frame, undrained(hashed_server(h), h, now));
        }
        const unsigned s = undrained(pick(h), h, now);
        *e = FlowEntry{p.key, FlowState::syn, std::uint8_t(s), 0, 0, now, now};
        ++c_.flows;
        return forward(frame, s);
    }
    if (!e) {
        ++c_.untracked;
        return forward(frame, hashed_server(h));
    }
    e->last_ns = now;
    const unsigned s = e->server;
    if (f & (kTcpRst | kTcpFin)) { // any reset or FIN ends the connection: FCT sample, flow off
        end_flow(*e, now, true);
        ++c_.flows_ended;
    } else if (f == kTcpAck) { // pure ACKs only: the request (PSH|ACK) is not a sample
        if (e->state == FlowState::syn) {
            e->state = FlowState::on;
            ++n_on_[s];
        } else {
            add_duration(s, double(now - e->syn_ns) * 1e-9, now);
        }
    }
    return forward(frame, s);
}

// MARLLB's per-packet path: lb_hash_get (lbhash.h:288-361) with bucket_stat_update_get
// (lbhash.h:87-172) for a live entry, node.c:384-489 with lb_hash_put and
// bucket_stat_update_put (lbhash.h:175-250, 371-386) for a SYN that finds a free or expired
// slot, node.c:490-497 for everything else (forwarded untracked by the Maglev table).
int LoadBalancer::handle_marllb(std::uint8_t *frame, const Parsed &p, std::uint64_t h, std::uint64_t now) noexcept {
    const std::uint32_t h32 = std::uint32_t(h);
    const FlowKey key{h32, p.key.dst_ip, 0, 0}; // MARLLB matches the 32-bit hash and the VIP only
    // Timeouts in whole seconds: an entry is valid while now_s < deadline_s (lbhash.h:303,
    // lb.c:96); each packet of the flow sets deadline_s = now_s + 40 (lbhash.h:334).
    const std::uint64_t now_s = now / 1'000'000'000ull, timeout_s = table_.timeout_ns() / 1'000'000'000ull;
    const std::uint8_t f = p.tcp_flags;
    FlowBucket &b = table_.bucket(h32);
    FlowEntry *found = nullptr, *avail = nullptr;
    for (auto &x : b.e) {
        const bool valid = x.state == FlowState::live && now_s < x.last_ns;
        if (!valid) {
            if (!avail) avail = &x;
        } else if (!found && x.key == key) found = &x;
    }
    if (found) {
        FlowEntry &e = *found;
        e.last_ns = now_s + timeout_s;
        const unsigned s = e.server;
        if (f & kTcpAck) {
            if (f != kTcpAck) {
                if (f & kTcpRst) { // RST|ACK: FCT sample, flow off, entry evicted (lbhash.h:116-124)
                    add_fct(s, double(now - e.syn_ns) * 1e-9, now);
                    if (--n_on_[s] < 0) ++c_.negative_on;
                    e.state = FlowState::dead;
                    ++c_.flows_ended;
                } // any other flags with ACK (PSH|ACK, FIN|ACK): only stored (lbhash.h:165)
            } else if (e.tcp_flags & kTcpAck) { // a pure ACK after an ACKed state: duration sample
                add_duration(s, double(now - e.syn_ns) * 1e-9, now);
            } else { // the first pure ACK: the flow is on (lbhash.h:138-145)
                ++n_on_[s];
            }
            e.tcp_flags = f;
        } else if (f == kTcpSyn) { // counted as a retransmission: server, SYN time, state kept
            ++c_.repeated_syns;
        } else if (f == kTcpRst) { // a bare RST: counted, nothing else (lbhash.h:152-155)
            ++c_.bare_rsts;
        }
        return forward(frame, s);
    }
    if (!(f & kTcpSyn) || !avail) { // unknown non-SYN, or a SYN in a full bucket (lbhash.h:312)
        ++c_.untracked;
        c_.untracked_syns += (f & kTcpSyn) != 0;
        return forward(frame, f & kTcpSyn ? undrained(hashed_server(h32), h32, now) : hashed_server(h32));
    }
    const unsigned s = undrained(pick(h32), h32, now);
    FlowEntry &e = *avail;
    bool fresh = true;
    // The slot's last flow ended without RST|ACK (it expired): wrap it up with a guessed FCT on
    // its server, n_flow_on left as it was (lbhash.h:182-218). If it was this hash on this same
    // server, MARLLB returns early: the old flags and SYN time stay for the new flow.
    if (e.state != FlowState::free && e.tcp_flags != 0 && e.tcp_flags != (kTcpRst | kTcpAck)) {
        if (e.key.src_ip == h32 && e.server == s) fresh = false;
        else {
            const double guess = double(now - e.syn_ns) * 1e-9 - double(timeout_s);
            add_fct(e.server, guess, now);
            ++c_.guessed_fcts;
        }
        ++c_.flows_expired;
    }
    if (fresh) {
        if (f == kTcpSyn) { // register_new_flow: a new flow starts here
            e.syn_ns = now;
            e.tcp_flags = f;
        } // SYN with other flags: no new flow and no state (lbhash.h:230-237)
    }
    e.key = key;
    e.server = std::uint8_t(s);
    e.state = FlowState::live;
    e.last_ns = now_s + timeout_s; // deadline, whole seconds
    ++c_.flows;
    return forward(frame, s);
}

void LoadBalancer::observe(std::uint64_t now, shm::MsgOut &m) noexcept {
    m.timestamp_us = 0;
    m.num_active_as = n_;
    m.active_as_bitmap = n_ == 64 ? ~std::uint64_t(0) : (std::uint64_t(1) << n_) - 1;
    for (unsigned s = 0; s < n_; ++s) {
        m.as_stats[s].n_flow_on = n_flow_on(s);
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
