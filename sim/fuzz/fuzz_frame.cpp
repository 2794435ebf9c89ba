// libFuzzer: hostile frames at the LB. The input is a sequence of frames (1-byte length, then
// the bytes) handed to one LB in order, so flows can be opened and closed by the fuzzer: the
// LB must never crash, never read outside a frame (ASan), and keep its books: every packet is
// either forwarded or dropped for a counted reason, and n_flow_on never exceeds flows opened.
#include "lb.hpp"

#include <cstdlib>
#include <cstring>
#include <vector>

using namespace marllb::sim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    LoadBalancer lb(LbConfig{.capacities = {1, 2, 1}, .policy = Policy::sed, .buckets_log2 = 2});
    std::uint64_t now = 1'000'000'000;
    std::uint64_t forwarded = 0;
    std::size_t i = 0;
    while (i < size) {
        const std::size_t len = data[i++];
        const std::size_t n = std::min(len, size - i);
        std::vector<std::uint8_t> frame(data + i, data + i + n); // exact size: ASan sees the end
        i += n;
        now += 1'000'000;
        forwarded += lb.process(frame.data(), frame.size(), now) >= 0;
    }
    const auto &c = lb.counters();
    if (c.forwarded != forwarded || c.forwarded + c.dropped() != c.packets) std::abort();
    std::uint64_t on = 0;
    for (unsigned s = 0; s < lb.num_servers(); ++s) on += lb.n_flow_on(s);
    if (on > c.flows) std::abort();
    return 0;
}
