// An independent prediction of what an in-order reader of a ring loses to wrap, from the
// recorded times of each publish and each read: the model knows nothing of read_next's code.
//
// The model. Publish k (sequence k, from 1) starts overwriting the slot of k - slots when it
// begins and makes k visible when it ends; so message m can be read from the end of publish m
// until the beginning of publish m + slots. The writer's progress is a phase h: 2c when c
// publishes are complete, 2c + 1 while publish c + 1 is under way. An in-order reader whose
// last returned message is L, reading at phase h, gets the oldest message still in the ring
// that is newer than L, m = max(L + 1, c - slots + 1 + (h odd)), and loses m - L - 1; nothing
// when L + 1 > c.
//
// The time of a read. read_next loads published_seq, then copies slots; the message it returns
// was intact for the whole copy, and every message it passed over was already gone when it
// tried it, so it returns what the model gives at the phase where its successful copy began.
// That moment lies between the clock readings taken just before and just after the call
// (begin, end). Publishes are bracketed the same way. A read is exact when no publish's
// bracket (widened by `guard_ns` for a store still draining after the writer read its clock)
// overlaps it; otherwise it is ambiguous and the replay follows every phase the brackets
// allow. The prediction is then the set of loss totals of all those paths; the count the
// reader reported must be one of them (a single value when no read is ambiguous).
#pragma once

#include <cstdint>
#include <vector>

namespace marllb::scenarios {

struct Span {
    std::uint64_t begin = 0, end = 0; // clock readings just before and just after the call
};

struct ReadEvent {
    Span at;
    std::uint64_t seq = 0; // the sequence returned, 0 when the call returned nothing
};

struct ReplayResult {
    std::vector<std::uint64_t> lost; // every loss total the recorded times allow, ascending
    std::uint64_t ambiguous = 0;     // reads whose bracket overlaps a publish's
    std::uint64_t disagreeing = 0;   // reads whose returned sequence no path predicts
    std::int64_t first_disagreeing = -1;
    bool contains(std::uint64_t v) const;
};

// publishes[k] is sequence k + 1's publish, in order; reads are in the reader's order and
// may omit calls that returned nothing and counted no loss (they change no state). The
// reader's reported total is compared with the result by the caller.
[[nodiscard]] ReplayResult replay_ring(const std::vector<Span> &publishes, const std::vector<ReadEvent> &reads,
                                       unsigned slots, std::uint64_t guard_ns);

} // namespace marllb::scenarios
