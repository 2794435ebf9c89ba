// libFuzzer: scenario files (TOML) on arbitrary bytes, against the options of a scenario
// binary. Either the file's keys become options, or an error names the file and the line.
#include "scenario.hpp"

#include <cstdlib>
#include <string_view>

using namespace marllb::scenarios;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    Common c;
    double seconds = 1, publish_us = 200000;
    std::string regime = "both";
    CLI::App app{"fuzz", "fuzz"};
    add_common_options(app, c);
    app.add_option("--seconds", seconds)->check(marllb::sim::cli::positive);
    app.add_option("--publish-us", publish_us);
    app.add_option("--regime", regime)->check(CLI::IsMember({"reactive", "periodic", "both"}));
    std::vector<std::string> args;
    const std::string err = apply_toml(app, std::string_view(reinterpret_cast<const char *>(data), size), "fuzz.toml", args);
    if (!err.empty()) {
        if (err.rfind("fuzz.toml:", 0) != 0) std::abort();
        return 0;
    }
    for (const auto &a : args)
        if (a.rfind("--", 0) != 0) std::abort();
    // The command line built from the file parses, or CLI11 says why (a bad value): no crash.
    std::reverse(args.begin(), args.end());
    try {
        app.parse(args);
    } catch (const CLI::Error &) {
    }
    return 0;
}
