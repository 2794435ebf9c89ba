// libFuzzer: the trace parser on arbitrary bytes. Either a trace whose every entry is valid
// (finite non-negative times that never go back, n > 0) or an error that names the line.
#include "trace.hpp"

#include <cmath>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    auto t = marllb::sim::parse_trace(text, "fuzz.csv");
    if (!t) {
        if (t.error().message.rfind("fuzz.csv:", 0) != 0) std::abort(); // an error always names file and line
        return 0;
    }
    double last = 0;
    for (const auto &e : *t) {
        if (!std::isfinite(e.time_s) || e.time_s < last || e.n == 0) std::abort();
        last = e.time_s;
    }
    return 0;
}
