// Actions: the checks every action passes before the LB uses it, and the alias table.
#include "internal.hpp"

#include <cmath>
#include <cstring>
#include <string>

namespace marllb::shm {

namespace {
// How far the alias table's implied share of a server may sit from weight / sum(weights).
// f32 probabilities carry ~6e-8 relative error per entry; 1e-4 leaves room for any sane
// builder and still catches a table built for other weights.
constexpr double kAliasShareTolerance = 1e-4;
} // namespace

RejectReason validate_action(const MsgIn &a, std::uint64_t newest_seq, ServerSet set) noexcept {
    if (a.sequence_id == 0) return MARLLB_ACTION_SEQ_ZERO;
    if (a.sequence_id > newest_seq) return MARLLB_ACTION_SEQ_FROM_FUTURE;
    const std::uint32_t n = a.num_servers;
    if (n == 0 || n > MARLLB_MAX_AS) return MARLLB_ACTION_NUM_SERVERS;
    // Before anything is read by index: an action sized for another server set is refused as
    // a whole, whatever its weights (8 weights for 7 servers would send flows to server 7).
    if (set.num_servers != 0 && n != set.num_servers) return MARLLB_ACTION_SERVER_COUNT;
    if (a.sequence_id < set.first_seq) return MARLLB_ACTION_SERVER_SET;
    if (a.reserved != 0) return MARLLB_ACTION_RESERVED_NONZERO;
    // One branch-free pass over all 64 weights; reasons are then reported in a fixed order.
    // Beyond num_servers every bit must be 0 (the layout's contract): -0.0 and NaN are junk too.
    bool not_finite = false, negative = false, beyond_n = false, alias_beyond_n = false;
    double sums[4] = {0, 0, 0, 0}; // four chains: a single one is 64 dependent adds
    for (std::uint32_t i = 0; i < MARLLB_MAX_AS; ++i) {
        const float w = a.weights[i];
        std::uint32_t wbits;
        std::uint64_t ebits;
        std::memcpy(&wbits, &w, 4);
        std::memcpy(&ebits, &a.alias_table[i], 8);
        not_finite |= !std::isfinite(w);
        negative |= w < 0;
        beyond_n |= i >= n && wbits != 0;
        alias_beyond_n |= i >= n && ebits != 0;
        sums[i % 4] += double(w);
    }
    if (not_finite) return MARLLB_ACTION_WEIGHT_NOT_FINITE;
    if (negative) return MARLLB_ACTION_WEIGHT_NEGATIVE;
    if (beyond_n) return MARLLB_ACTION_WEIGHT_BEYOND_N;
    const double sum = (sums[0] + sums[1]) + (sums[2] + sums[3]);
    if (sum == 0) return MARLLB_ACTION_WEIGHTS_ALL_ZERO;
    if (alias_beyond_n) return MARLLB_ACTION_ALIAS_BEYOND_N;
    double share[MARLLB_MAX_AS] = {};
    for (std::uint32_t i = 0; i < n; ++i) {
        const float p = a.alias_table[i].prob;
        if (!(p >= 0.0f && p <= 1.0f)) return MARLLB_ACTION_ALIAS_PROB_RANGE; // NaN fails too
        if (a.alias_table[i].alias >= n) return MARLLB_ACTION_ALIAS_INDEX_RANGE;
        share[i] += p;
        share[a.alias_table[i].alias] += 1.0 - double(p);
    }
    // The table must draw each server with its weight's share (share[i] / n against
    // w[i] / sum, compared as share[i] against w[i] * n / sum), and never a zero-weight one:
    // an exact test, a zero-weight server must get no probability mass at all.
    const double scale = double(n) / sum;
    const double tolerance = kAliasShareTolerance * n;
    bool mismatch = false;
    for (std::uint32_t i = 0; i < n; ++i) {
        const double w = a.weights[i];
        mismatch |= w == 0 ? share[i] != 0 : std::fabs(share[i] - w * scale) > tolerance;
    }
    return mismatch ? MARLLB_ACTION_ALIAS_MISMATCH : MARLLB_ACTION_OK;
}

const char *describe(RejectReason reason) noexcept {
    switch (reason) {
    case MARLLB_ACTION_OK: return "ok";
    case MARLLB_ACTION_SEQ_ZERO: return "sequence_id is 0: an action must echo the sequence_id of an observation (ids start at 1)";
    case MARLLB_ACTION_SEQ_FROM_FUTURE: return "sequence_id is newer than every published observation: echo the id of the observation the action answers";
    case MARLLB_ACTION_NUM_SERVERS: return "num_servers must be 1..64";
    case MARLLB_ACTION_WEIGHT_NOT_FINITE: return "a weight is NaN or infinite";
    case MARLLB_ACTION_WEIGHT_NEGATIVE: return "a weight is negative";
    case MARLLB_ACTION_WEIGHT_BEYOND_N: return "a weight beyond num_servers is not 0";
    case MARLLB_ACTION_WEIGHTS_ALL_ZERO: return "all weights are 0: no server could be chosen";
    case MARLLB_ACTION_ALIAS_PROB_RANGE: return "an alias probability is NaN or outside [0, 1]";
    case MARLLB_ACTION_ALIAS_INDEX_RANGE: return "an alias index is not below num_servers";
    case MARLLB_ACTION_RESERVED_NONZERO: return "the reserved field is not 0: zero the whole action before filling it";
    case MARLLB_ACTION_ALIAS_BEYOND_N: return "an alias entry beyond num_servers is not all zero: zero entries num_servers..63 (marllb_alias_build does)";
    case MARLLB_ACTION_ALIAS_MISMATCH: return "the alias table does not draw servers in proportion to the weights (rebuild it with marllb_alias_build)";
    case MARLLB_ACTION_SERVER_COUNT: return "num_servers is not the LB's server count: send one weight per server of the LB (marllb_agent_num_servers)";
    case MARLLB_ACTION_SERVER_SET: return "the action answers an observation of a server set the LB has since changed: answer an observation of the current set";
    case MARLLB_ACTION_META: return "the action's metadata is junk (an observation generation above the LB's, or its reserved word set): write actions through marllb_agent_write_action";
    default: return "unknown reject reason";
    }
}

} // namespace marllb::shm

// Vose's alias method (Vose 1991). Worked in double, stored as f32.
// Zero-weight entries never get drawn: while one is unpaired, the unpaired mass exceeds what
// the small entries can hold by at least 1 (far above rounding), so a large entry exists to
// pair it with, and it ends with prob 0 and an alias to a positive entry. The last loop
// guards that anyway.
extern "C" int marllb_alias_build(const float *weights, uint32_t n, marllb_alias_entry_t *table) {
    using marllb::shm::detail::set_last_error;
    if (!weights || !table)
        return set_last_error("marllb_alias_build: weights or table is NULL"), MARLLB_E_INVAL;
    if (n == 0 || n > MARLLB_MAX_AS)
        return set_last_error("marllb_alias_build: n is " + std::to_string(n) + "; build for 1 to 64 servers"),
               MARLLB_E_INVAL;
    double sum = 0;
    for (uint32_t i = 0; i < n; ++i) {
        if (!std::isfinite(weights[i]) || weights[i] < 0)
            return set_last_error("marllb_alias_build: weight " + std::to_string(i) + " is " +
                                  std::to_string(weights[i]) + "; weights must be finite and >= 0"),
                   MARLLB_E_INVAL;
        sum += weights[i];
    }
    if (sum == 0)
        return set_last_error("marllb_alias_build: every weight is 0, so no server could be drawn; give at least one a positive weight"),
               MARLLB_E_INVAL;
    double p[MARLLB_MAX_AS];
    uint32_t small[MARLLB_MAX_AS], large[MARLLB_MAX_AS];
    uint32_t ns = 0, nl = 0, any_positive = 0;
    for (uint32_t i = 0; i < n; ++i) {
        p[i] = double(weights[i]) * n / sum;
        if (weights[i] > 0) any_positive = i;
        if (p[i] < 1.0) small[ns++] = i;
        else large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
        const uint32_t s = small[--ns];
        const uint32_t l = large[--nl];
        table[s].prob = float(p[s]);
        table[s].alias = l;
        p[l] = (p[l] + p[s]) - 1.0;
        if (p[l] < 1.0) small[ns++] = l;
        else large[nl++] = l;
    }
    while (nl > 0) { // leftovers are 1 up to rounding
        const uint32_t l = large[--nl];
        table[l] = {1.0f, l};
    }
    while (ns > 0) {
        const uint32_t s = small[--ns];
        table[s] = weights[s] > 0 ? marllb_alias_entry_t{1.0f, s} : marllb_alias_entry_t{0.0f, any_positive};
    }
    for (uint32_t i = n; i < MARLLB_MAX_AS; ++i) table[i] = {0.0f, 0};
    return MARLLB_OK;
}

extern "C" marllb_action_reject_t marllb_action_validate(const marllb_msg_in_t *action, uint64_t newest_seq) {
    return marllb::shm::validate_action(*action, newest_seq);
}

extern "C" marllb_action_reject_t marllb_action_validate_for(const marllb_msg_in_t *action, uint64_t newest_seq,
                                                             uint32_t num_servers, uint64_t server_set_seq) {
    return marllb::shm::validate_action(*action, newest_seq, {num_servers, server_set_seq});
}

extern "C" const char *marllb_reject_reason_str(marllb_action_reject_t reason) {
    return marllb::shm::describe(reason);
}
