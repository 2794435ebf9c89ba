#include "ring_replay.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace marllb::scenarios {

bool ReplayResult::contains(std::uint64_t v) const { return std::binary_search(lost.begin(), lost.end(), v); }

ReplayResult replay_ring(const std::vector<Span> &pubs, const std::vector<ReadEvent> &reads, unsigned slots,
                         std::uint64_t guard_ns) {
    ReplayResult res;
    // Paths: (last returned L, loss so far). Ambiguous reads fork them; equal pairs merge.
    std::set<std::pair<std::uint64_t, std::uint64_t>> paths{{0, 0}};
    std::size_t done_lo = 0, begun_hi = 0; // publishes surely complete by a read's begin / possibly begun by its end
    for (std::size_t j = 0; j < reads.size(); ++j) {
        const ReadEvent &r = reads[j];
        while (done_lo < pubs.size() && pubs[done_lo].end + guard_ns <= r.at.begin) ++done_lo;
        while (begun_hi < pubs.size() && pubs[begun_hi].begin < r.at.end) ++begun_hi;
        const std::uint64_t h_lo = 2 * done_lo, h_hi = 2 * std::max(begun_hi, done_lo);
        res.ambiguous += h_hi != h_lo;
        std::set<std::pair<std::uint64_t, std::uint64_t>> next;
        bool predicted = false;
        for (const auto &[last, lost] : paths)
            for (std::uint64_t h = h_lo; h <= h_hi; ++h) {
                const std::uint64_t c = h / 2, oldest = c + 1 + (h & 1) > slots ? c + 1 + (h & 1) - slots : 1;
                if (last + 1 > c) { // nothing new
                    next.emplace(last, lost);
                    predicted |= r.seq == 0;
                    continue;
                }
                const std::uint64_t m = std::max(last + 1, oldest);
                next.emplace(m, lost + (m - last - 1));
                predicted |= r.seq == m;
            }
        paths = std::move(next);
        if (!predicted) {
            ++res.disagreeing;
            if (res.first_disagreeing < 0) res.first_disagreeing = std::int64_t(j);
        }
    }
    std::set<std::uint64_t> totals;
    for (const auto &[last, lost] : paths) totals.insert(lost);
    res.lost.assign(totals.begin(), totals.end());
    return res;
}

} // namespace marllb::scenarios
