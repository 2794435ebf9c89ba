// The simulated load balancer: the stand-in for MARLLB's VPP plugin. Per packet it parses the
// headers, runs a per-flow state machine and picks a server for each new flow by the policy;
// at publish time it turns its reservoirs into an observation (msg_out_t) and the raw
// reservoirs; it applies the agent's actions. Two models of the per-flow part (LbModel):
// MARLLB's plugin as it is, quirks included, and a clean variant; docs/sim.md has the table of
// every behaviour in which they differ, with MARLLB's file and line. One instance per simulated
// LB, owned by the LB lcore alone (no field here is shared across threads).
#pragma once

#include "events.hpp"
#include "features.hpp"
#include "flow_table.hpp"
#include "frame.hpp"

#include <marllb/shm.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace marllb::sim {

enum class Policy : std::uint8_t {
    ecmp,        // hash of the 5-tuple over the active servers
    wcmp,        // alias sampling over the static weights (capacities)
    lsq,         // argmin n_flow_on
    sed,         // argmin (n_flow_on + 1) / capacity
    agent_sed,   // the agent's weights through SED (what MARLLB's RL agents drive)
    agent_alias, // the agent's alias table
};
[[nodiscard]] std::string_view describe(Policy p) noexcept;
// "ecmp", "wcmp", "lsq", "sed", "agent" (= agent-sed), "agent-sed", "agent-alias".
[[nodiscard]] bool parse_policy(std::string_view s, Policy &out) noexcept;

// The per-flow model (docs/sim.md, "LB models"):
//  marllb: MARLLB's plugin: flows keyed by a 32-bit hash and the VIP; 2^10 buckets; new and
//          untracked flows start from a 64-entry Maglev table; SED/LSQ keep the hashed server
//          unless another scores strictly lower, SED as (n+1)/(1e-9+w) in f32; only RST|ACK ends
//          a flow; an expired entry is wrapped up with a guessed FCT when its slot is reused
//          (n_flow_on not decremented); a SYN on a live entry changes nothing; reservoirs are
//          written at random slots from the first sample and read as 128 slots, zeros included.
//  clean:  the 5-tuple as key; 2^16 buckets; ECMP and the start of SED/LSQ by a uniform hash;
//          zero weights never win; RST, RST|ACK or FIN end a flow; expiry counts the flow off
//          without a sample; a SYN on an ACKed entry is a new connection; reservoirs fill in order.
enum class LbModel : std::uint8_t { marllb, clean };
[[nodiscard]] std::string_view describe(LbModel m) noexcept;
[[nodiscard]] bool parse_lb_model(std::string_view s, LbModel &out) noexcept;
// MARLLB's flow-table size (lb.h:46) and Maglev table length (its testbed's "new_len 64").
inline constexpr unsigned kMarllbBucketsLog2 = 10, kCleanBucketsLog2 = 16, kMaglevLen = 64;

// What the LB does with the agent's weights when the agent's heartbeat stops.
enum class Fallback : std::uint8_t { keep_last, static_weights };

struct LbConfig {
    std::vector<double> capacities;  // one per server (cores); static weights
    Policy policy = Policy::sed;
    Fallback fallback = Fallback::keep_last;
    LbModel model = LbModel::marllb;
    unsigned buckets_log2 = 0;       // 2^N buckets x 4 entries; 0 = the model's (10 MARLLB, 16 clean)
    std::uint64_t flow_timeout_ns = 40'000'000'000ull;
    ReservoirMode reservoir_mode = ReservoirMode::random_replacement;
    FeatureOptions features;
    std::uint64_t seed = 1;
};

struct LbCounters {
    std::uint64_t packets = 0, forwarded = 0, flows = 0, flows_ended = 0, flows_expired = 0;
    // Forwarded by the hash without an entry: non-SYNs of unknown flows, SYNs of a full bucket.
    std::uint64_t untracked = 0, untracked_syns = 0;
    // marllb: SYNs and bare RSTs on live entries (counted, no state change), guessed FCTs of
    // wrapped-up expired entries, RST|ACKs that took n_flow_on below zero.
    std::uint64_t repeated_syns = 0, bare_rsts = 0, guessed_fcts = 0, negative_on = 0;
    std::array<std::uint64_t, kDropReasons> drops{};
    std::uint64_t actions_applied = 0, fallbacks = 0;
    [[nodiscard]] std::uint64_t dropped() const noexcept {
        std::uint64_t s = 0;
        for (auto d : drops) s += d;
        return s;
    }
};

class LoadBalancer {
public:
    explicit LoadBalancer(LbConfig cfg);

    // Handles one frame seen at now_ns. Returns the server it goes to (the destination MAC is
    // rewritten to that server's) or -1 when dropped (the reason is counted).
    int process(std::uint8_t *frame, std::size_t len, std::uint64_t now_ns) noexcept;
    // The same for a frame its caller already parsed (p = parse_frame(frame), hash =
    // flow_hash(p.key)), e.g. to choose among several LBs first: nothing is parsed twice.
    int process_parsed(std::uint8_t *frame, const Parsed &p, std::uint64_t hash, std::uint64_t now_ns) noexcept;
    // The same for a burst of up to 64 frames seen at now_ns (or at times[i] if times is not
    // null): headers are parsed and flow buckets prefetched for the whole burst first, so the
    // table's cache misses overlap. server[i] receives what process() would return.
    void process_burst(std::uint8_t *const *frames, const std::uint16_t *lens, unsigned n, std::uint64_t now_ns,
                       const std::uint64_t *times, int *server) noexcept;

    // The observation at now_ns: n_flow_on and the ten features per server; sequence_id is
    // left to publish. The raw reservoirs the features came from are raw_reservoirs().
    void observe(std::uint64_t now_ns, shm::MsgOut &msg) noexcept;
    [[nodiscard]] const shm::ReservoirData &raw_reservoirs() const noexcept { return *raw_; }

    // An action the region accepted (validated, newer): its weights (and alias table) take effect.
    void apply_action(const shm::MsgIn &action) noexcept;
    // The agent stopped answering: fall back as configured. Idempotent until the next action.
    void agent_lost() noexcept;

    // As published: MARLLB's counter is an int32 that its quirks can take below zero; the ABI's
    // field is unsigned, so a negative count is published as 0 (counters().negative_on).
    [[nodiscard]] std::uint32_t n_flow_on(unsigned s) const noexcept { return n_on_[s] > 0 ? std::uint32_t(n_on_[s]) : 0; }
    [[nodiscard]] std::int32_t n_flow_on_raw(unsigned s) const noexcept { return n_on_[s]; }
    // The server of entry i of the 64-entry Maglev table (marllb model).
    [[nodiscard]] unsigned maglev_entry(unsigned i) const noexcept { return maglev_[i % kMaglevLen]; }
    [[nodiscard]] unsigned num_servers() const noexcept { return n_; }
    [[nodiscard]] std::size_t table_capacity() const noexcept { return table_.capacity(); }
    [[nodiscard]] const LbCounters &counters() const noexcept { return c_; }
    [[nodiscard]] const Reservoir &fct(unsigned s) const noexcept { return *fct_[s]; }
    [[nodiscard]] const Reservoir &duration(unsigned s) const noexcept { return *dur_[s]; }
    [[nodiscard]] const LbConfig &config() const noexcept { return cfg_; }
    [[nodiscard]] bool using_fallback() const noexcept { return in_fallback_; }

    // An operator's changes of the server set during the run (events.hpp): from each event's
    // time on, a drained server gets no new flow (its flows go on); new flows that the policy
    // (or, untracked, the hash) would give it go to the undrained server of lowest
    // (flows on + 1) / provisioned weight. Applied by each SYN's time. Events in time order.
    void set_drains(std::vector<DrainEvent> events) noexcept {
        drains_ = std::move(events);
        next_drain_ = 0;
        drained_ = 0;
    }
    [[nodiscard]] bool drained(unsigned s) const noexcept { return (drained_ >> s) & 1; }
    [[nodiscard]] const std::vector<float> &weights() const noexcept { return weights_; }

private:
    [[nodiscard]] unsigned hashed_server(std::uint64_t hash) const noexcept {
        return cfg_.model == LbModel::marllb ? maglev_[hash & (kMaglevLen - 1)] : unsigned((hash >> 32) % n_);
    }
    unsigned pick(std::uint64_t hash) noexcept;
    // s, or another server when s is drained at now (set_drains).
    unsigned undrained(unsigned s, std::uint64_t hash, std::uint64_t now) noexcept {
        if (next_drain_ < drains_.size() && now >= drains_[next_drain_].t_ns) [[unlikely]] apply_drains(now);
        return (drained_ >> s) & 1 ? replace_drained(s, hash) : s;
    }
    void apply_drains(std::uint64_t now) noexcept;
    unsigned replace_drained(unsigned s, std::uint64_t hash) const noexcept;
    int handle(std::uint8_t *frame, const Parsed &p, std::uint64_t hash, std::uint64_t now) noexcept;
    int handle_marllb(std::uint8_t *frame, const Parsed &p, std::uint64_t hash, std::uint64_t now) noexcept;
    int forward(std::uint8_t *frame, unsigned s) noexcept {
        set_server_mac(frame, s);
        ++c_.forwarded;
        return int(s);
    }
    // A sample of server s's FCT or flow duration: its intake (one line of intake_, in cache)
    // and its slot of raw_, never the reservoir object, which only the first sample touches.
    void add_fct(unsigned s, double value_s, std::uint64_t now) noexcept {
        add_sample(intake_[s], raw_->fct[s], *fct_[s], value_s, now);
    }
    void add_duration(unsigned s, double value_s, std::uint64_t now) noexcept {
        add_sample(intake_[MARLLB_MAX_AS + s], raw_->flow_duration[s], *dur_[s], value_s, now);
    }
    void add_sample(ReservoirIntake &in, marllb_reservoir_raw_t &raw, Reservoir &r, double value_s,
                    std::uint64_t now) noexcept {
        const std::uint64_t rnd = marllb_rand64(&rng_);
        if (!in.have_epoch) [[unlikely]] r.add(float(value_s), now, cfg_.reservoir_mode, rnd, cfg_.features);
        else in.put(raw, float(value_s), now, cfg_.reservoir_mode, rnd);
    }
    void end_flow(FlowEntry &e, std::uint64_t now_ns, bool with_sample) noexcept;
    void build_maglev();
    void set_weights(const float *w, const marllb_alias_entry_t *alias) noexcept;

    LbConfig cfg_;
    unsigned n_ = 0;
    FlowTable table_;
    std::uint64_t rng_;
    std::vector<std::int32_t> n_on_;         // int32 as MARLLB's as_stat_t.n_flow_on
    std::array<std::uint8_t, kMaglevLen> maglev_{};
    std::unique_ptr<shm::ReservoirData> raw_; // all samples, in the ABI's layout
    // The reservoirs' intakes: FCT of server s at s, flow duration at MARLLB_MAX_AS + s.
    std::unique_ptr<ReservoirIntake[]> intake_;
    std::vector<std::unique_ptr<Reservoir>> fct_, dur_;
    std::vector<float> weights_;             // the weights in force (static or the agent's)
    std::vector<marllb_alias_entry_t> alias_; // alias table over weights_ (64 entries, as the ABI)
    std::vector<float> static_weights_;
    bool in_fallback_ = false;
    std::vector<DrainEvent> drains_;
    std::size_t next_drain_ = 0;
    std::uint64_t drained_ = 0; // bit s: server s drained
    unsigned renew_next_ = 0; // round robin over the reservoirs for epoch renewal
    LbCounters c_;
};

} // namespace marllb::sim
