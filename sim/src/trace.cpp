#include "trace.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace marllb::sim {
namespace {

shm::Error bad(std::string_view name, std::size_t line, const std::string &what) {
    return {shm::Errc::invalid,
            std::string(name) + ":" + std::to_string(line) + ": " + what +
                " (expected '<seconds>\\t/dummy.php/?n=<iterations>', e.g. '0.115\\t/dummy.php/?n=5478122')"};
}

std::string shown(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 60)) out += (c >= 32 && c < 127) ? c : '?';
    return "'" + out + (s.size() > 60 ? "...'" : "'");
}

} // namespace

shm::Expected<std::vector<TraceEntry>> parse_trace(std::string_view text, std::string_view name) {
    std::vector<TraceEntry> out;
    std::size_t line_no = 0;
    double last = 0;
    bool header_seen = false;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        if (!header_seen) {
            header_seen = true;
            if (line == "time\tquery") continue;
            return shm::unexpected(bad(name, line_no, "the first line must be the header 'time\\tquery', got " + shown(line)));
        }
        const std::size_t tab = line.find('\t');
        if (tab == std::string_view::npos)
            return shm::unexpected(bad(name, line_no, "no tab between time and query in " + shown(line)));
        const std::string_view t = line.substr(0, tab), q = line.substr(tab + 1);
        TraceEntry e;
        auto [tp, tec] = std::from_chars(t.data(), t.data() + t.size(), e.time_s);
        if (tec != std::errc{} || tp != t.data() + t.size() || !std::isfinite(e.time_s) || e.time_s < 0)
            return shm::unexpected(bad(name, line_no, "time " + shown(t) + " is not a finite number of seconds >= 0"));
        if (e.time_s < last)
            return shm::unexpected(bad(name, line_no, "time " + shown(t) + " goes back (previous line: " + std::to_string(last) + ")"));
        constexpr std::string_view prefix = "/dummy.php/?n=";
        if (!q.starts_with(prefix))
            return shm::unexpected(bad(name, line_no, "query " + shown(q) + " does not start with '/dummy.php/?n='"));
        const std::string_view n = q.substr(prefix.size());
        auto [np, nec] = std::from_chars(n.data(), n.data() + n.size(), e.n);
        if (nec != std::errc{} || np != n.data() + n.size() || n.empty() || e.n == 0)
            return shm::unexpected(bad(name, line_no, "n=" + shown(n) + " is not a whole number of iterations > 0"));
        last = e.time_s;
        out.push_back(e);
    }
    if (out.empty()) return shm::unexpected(bad(name, line_no, "the trace has no requests"));
    return out;
}

shm::Expected<std::vector<TraceEntry>> load_trace(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const int e = errno;
        return shm::unexpected(shm::Error{shm::Errc::system, "cannot read trace file '" + path + "': " + std::strerror(e) +
                                                                 ". MARLLB's traces are in sim/traces/ (e.g. "
                                                                 "sim/traces/poisson_for_loop_rate_350.csv)"});
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_trace(ss.str(), path);
}

shm::Expected<std::vector<TraceEntry>> trace_window(std::vector<TraceEntry> trace, double start_s) {
    if (!(start_s >= 0) || !std::isfinite(start_s))
        return shm::unexpected(shm::Error{shm::Errc::invalid, "the trace start must be a finite number of seconds >= 0, got " +
                                                                  std::to_string(start_s)});
    if (start_s == 0) return trace;
    const auto first = std::lower_bound(trace.begin(), trace.end(), start_s,
                                        [](const TraceEntry &e, double t) { return e.time_s < t; });
    if (first == trace.end())
        return shm::unexpected(shm::Error{shm::Errc::invalid,
                                          "the trace start " + std::to_string(start_s) + " s is past its last request (at " +
                                              std::to_string(trace.empty() ? 0.0 : trace.back().time_s) +
                                              " s): start earlier"});
    trace.erase(trace.begin(), first);
    for (auto &e : trace) e.time_s -= start_s;
    return trace;
}

} // namespace marllb::sim
