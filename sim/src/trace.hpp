// MARLLB trace files: tab-separated "time<TAB>query" with a header line; query is
// "/dummy.php/?n=N" (one HTTP request per new connection, work proportional to N).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <marllb/shm.hpp>

namespace marllb::sim {

struct TraceEntry {
    double time_s = 0;    // seconds from the start of the replay
    std::uint64_t n = 0;  // loop iterations the request asks for
};

// Parses a whole trace held in memory; `name` is used in error messages. An error names the
// line, what was wrong, and what a good line looks like. Times must not go back.
[[nodiscard]] shm::Expected<std::vector<TraceEntry>> parse_trace(std::string_view text, std::string_view name);
// Reads and parses a file.
[[nodiscard]] shm::Expected<std::vector<TraceEntry>> load_trace(const std::string &path);
// The part of a trace from `start_s` seconds on, its times shifted so that start_s becomes 0:
// several windows of one trace give several workloads of the same traffic. An error when
// start_s is negative or leaves no request.
[[nodiscard]] shm::Expected<std::vector<TraceEntry>> trace_window(std::vector<TraceEntry> trace, double start_s);

} // namespace marllb::sim
