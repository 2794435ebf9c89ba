#include "servers.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace marllb::sim {

shm::Expected<std::vector<double>> parse_server_set(std::string_view spec) {
    auto fail = [&](const std::string &what) {
        return shm::unexpected(shm::Error{shm::Errc::invalid,
            "server set '" + std::string(spec) + "': " + what +
            " (give capacities in cores like '1,1,1,1,2,2,2', a preset marllb7, marllb6 or marllb24, or @file)"});
    };
    if (spec == "marllb7") return std::vector<double>{1, 1, 1, 1, 2, 2, 2};
    if (spec == "marllb6") return std::vector<double>{2, 2, 2, 4, 4, 4};
    if (spec == "marllb24") {
        std::vector<double> v(12, 2.0);
        v.insert(v.end(), 12, 4.0);
        return v;
    }
    std::string text(spec);
    if (spec.starts_with('@')) {
        std::ifstream in(std::string(spec.substr(1)));
        if (!in) return fail("cannot read the file");
        std::stringstream ss;
        ss << in.rdbuf();
        text = ss.str();
    }
    std::vector<double> out;
    std::string_view rest = text;
    while (!rest.empty()) {
        const std::size_t cut = rest.find_first_of(",\n \t");
        std::string_view item = rest.substr(0, cut);
        rest = cut == std::string_view::npos ? std::string_view{} : rest.substr(cut + 1);
        if (item.empty() || item == "\r") continue;
        double c = 0;
        auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), c);
        if (ec != std::errc{} || p != item.data() + item.size() || !std::isfinite(c) || c <= 0 || c > 1024)
            return fail("'" + std::string(item) + "' is not a capacity in cores (a number in (0, 1024])");
        out.push_back(c);
    }
    if (out.empty()) return fail("no servers");
    if (out.size() > MARLLB_MAX_AS) return fail(std::to_string(out.size()) + " servers; at most 64");
    return out;
}

} // namespace marllb::sim
