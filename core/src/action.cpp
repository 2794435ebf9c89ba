// Actions: the checks every action passes before the LB uses it, and the alias table.
#include "internal.hpp"
#include "plant.hpp"

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

static_assert((MARLLB_MAX_AS & (MARLLB_MAX_AS - 1)) == 0, "validate_action masks alias indices with MARLLB_MAX_AS - 1");

namespace {
RejectReason validate(const MsgIn &a, std::uint64_t newest_seq, ServerSet set) noexcept {
    if (a.sequence_id == 0) return MARLLB_ACTION_SEQ_ZERO;
    if (a.sequence_id > newest_seq) return MARLLB_ACTION_SEQ_FROM_FUTURE;
    const std::uint32_t n = a.num_servers;
    if (n == 0 || n > MARLLB_MAX_AS) return MARLLB_ACTION_NUM_SERVERS;
    // Before anything is read by index: an action sized for another server set is refused as
    // a whole, whatever its weights (8 weights for 7 servers would send flows to server 7).
    if (set.num_servers != 0 && n != set.num_servers) return MARLLB_ACTION_SERVER_COUNT;
    if (a.sequence_id < set.first_seq) return MARLLB_ACTION_SERVER_SET;
    if (a.reserved != 0) return MARLLB_ACTION_RESERVED_NONZERO;
    // No branch per server: every check sets a flag, and the reasons are reported afterwards in
    // a fixed order (the order of the enum's table in docs/c-api.md), whichever entry tripped
    // them. No loop exits early, so the compiler vectorises every one but the alias scatter
    // (checked with -fopt-info-vec: 16-byte vectors, the x86-64 baseline).
    //
    // 1. All 64 slots: weights finite and >= 0, and beyond num_servers every bit 0 in weights
    //    and alias entries (the layout's contract: -0.0 and NaN are junk too).
    //    The flags are integers set with bitwise operators: a short-circuit && is control flow,
    //    and control flow keeps a loop from being vectorised.
    std::uint32_t not_finite = 0, negative = 0, beyond_n = 0, alias_beyond_n = 0;
    double sums[4] = {0, 0, 0, 0}; // four chains: a single one is 64 dependent adds
    for (std::uint32_t i = 0; i < MARLLB_MAX_AS; ++i) {
        std::uint32_t wbits;
        std::memcpy(&wbits, &a.weights[i], 4);
        not_finite |= std::uint32_t((wbits & 0x7f800000u) == 0x7f800000u); // exponent all ones
        negative |= std::uint32_t(wbits > 0x80000000u); // sign set and not -0.0 (NaN: above)
        beyond_n |= wbits & -std::uint32_t(i >= n);     // all ones beyond num_servers
    }
    for (std::uint32_t i = 0; i < MARLLB_MAX_AS; i += 4)
        for (std::uint32_t k = 0; k < 4; ++k) sums[k] += double(a.weights[i + k]);
    for (std::uint32_t i = 0; i < MARLLB_MAX_AS; ++i) {
        std::uint32_t pbits;
        std::memcpy(&pbits, &a.alias_table[i].prob, 4);
        alias_beyond_n |= (pbits | a.alias_table[i].alias) & -std::uint32_t(i >= n);
    }
    if (not_finite) return MARLLB_ACTION_WEIGHT_NOT_FINITE;
    if (negative) return MARLLB_ACTION_WEIGHT_NEGATIVE;
    if (beyond_n) return MARLLB_ACTION_WEIGHT_BEYOND_N;
    const double sum = (sums[0] + sums[1]) + (sums[2] + sums[3]);
    if (sum == 0) return MARLLB_ACTION_WEIGHTS_ALL_ZERO;
    if (alias_beyond_n) return MARLLB_ACTION_ALIAS_BEYOND_N;
    // 2. The alias table's implied share of each server: its own probability, plus 1 - prob of
    //    every entry that aliases it. The scatter goes to four arrays by entry (summed after):
    //    a Vose table aliases runs of entries to the same server, and one array would make
    //    each add wait for the previous one's store. An index is masked into the arrays before
    //    it is checked (alias & 63 < 64), so a bad one is refused, never written out of bounds.
    //    Every term is >= 0 once the ranges hold, so a share is exactly 0 only if no entry
    //    gives the server any mass, in whatever order the terms are added.
    std::uint32_t prob_range = 0, index_range = 0;
    alignas(64) double scattered[4][MARLLB_MAX_AS] = {};
    for (std::uint32_t i = 0; i < n; ++i) {
        const float p = a.alias_table[i].prob;
        const std::uint32_t to = a.alias_table[i].alias;
        prob_range |= std::uint32_t(!(p >= 0.0f)) | std::uint32_t(!(p <= 1.0f)); // NaN fails too
        index_range |= std::uint32_t(to >= n);
        scattered[i % 4][to & (MARLLB_MAX_AS - 1)] += 1.0 - double(p);
    }
    if (prob_range) return MARLLB_ACTION_ALIAS_PROB_RANGE;
    if (index_range) return MARLLB_ACTION_ALIAS_INDEX_RANGE;
    // 3. The table must draw each server with its weight's share (share[i] / n against
    //    w[i] / sum, compared as share[i] against w[i] * n / sum), and never a zero-weight one:
    //    an exact test, a zero-weight server must get no probability mass at all.
    const double scale = double(n) / sum;
    const double tolerance = kAliasShareTolerance * n;
    std::uint32_t mismatch = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        const double share = double(a.alias_table[i].prob) +
                             ((scattered[0][i] + scattered[1][i]) + (scattered[2][i] + scattered[3][i]));
        const double w = a.weights[i];
        mismatch |= (std::uint32_t(w == 0) & std::uint32_t(share != 0)) |
                    (std::uint32_t(w != 0) & std::uint32_t(std::fabs(share - w * scale) > tolerance));
    }
    return mismatch ? MARLLB_ACTION_ALIAS_MISMATCH : MARLLB_ACTION_OK;
}
} // namespace

RejectReason validate_action(const MsgIn &a, std::uint64_t newest_seq, ServerSet set) noexcept {
    if constexpr (plant::validate_again)
        plant::again_in<1, 2>([&] {
            asm volatile("" ::: "memory"); // the action may have changed: no reuse of a result
            RejectReason again = validate(a, newest_seq, set);
            asm volatile("" : : "r"(again)); // computed, not optimised away
        });
    return validate(a, newest_seq, set);
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
