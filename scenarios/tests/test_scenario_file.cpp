// Scenario files (TOML): their keys become options that the command line can override; a
// broken file is refused with the file, the line and what was wrong.
#include "scenario.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

using namespace marllb::scenarios;

namespace {
struct Fixture {
    Common c;
    double seconds = 1;
    std::string regime = "both";
    bool prefetch = false;
    CLI::App app{"test", "test"};
    Fixture() {
        add_common_options(app, c);
        app.add_option("--seconds", seconds)->check(marllb::sim::cli::positive);
        app.add_option("--regime", regime)->check(CLI::IsMember({"reactive", "periodic", "both"}));
        app.add_flag("--prefetch", prefetch);
    }
    std::string load(std::string_view toml, std::vector<std::string> extra = {}) {
        std::vector<std::string> args;
        std::string err = apply_toml(app, toml, "s.toml", args);
        if (!err.empty()) return err;
        args.insert(args.end(), extra.begin(), extra.end());
        std::reverse(args.begin(), args.end());
        try {
            app.parse(args);
        } catch (const CLI::Error &e) {
            return std::string("cli: ") + e.what();
        }
        return {};
    }
};
} // namespace

TEST_CASE("a scenario file sets options, the command line overrides it", "[scenario-file]") {
    Fixture f;
    REQUIRE(f.load("seconds = 12\nregime = \"reactive\"\nprefetch = true\nplacement = \"smt\"\n", {"--seconds=3"}) == "");
    CHECK(f.seconds == 3);
    CHECK(f.regime == "reactive");
    CHECK(f.prefetch);
    CHECK(f.c.placement == "smt");
}

TEST_CASE("TOML syntax errors name file, line and column", "[scenario-file][bad-input]") {
    Fixture f;
    const std::string err = f.load("seconds = 12\nregime = \"reactive\n");
    CHECK_THAT(err, Catch::StartsWith("s.toml:2:"));
}

TEST_CASE("an unknown key names itself, its line and the known keys", "[scenario-file][bad-input]") {
    Fixture f;
    const std::string err = f.load("seconds = 1\nsecond = 2\n");
    CHECK_THAT(err, Catch::StartsWith("s.toml:2:") && Catch::Contains("unknown key 'second'") && Catch::Contains("seconds"));
}

TEST_CASE("tables, arrays and a nested config are refused", "[scenario-file][bad-input]") {
    Fixture f;
    CHECK_THAT(f.load("seconds = [1, 2]\n"), Catch::Contains("must be a string, number or boolean"));
    CHECK_THAT(f.load("[cadence]\nseconds = 1\n"), Catch::Contains("unknown key 'cadence'"));
    CHECK_THAT(f.load("config = \"other.toml\"\n"), Catch::Contains("cannot name another file"));
}

TEST_CASE("a value the option refuses is reported by the option", "[scenario-file][bad-input]") {
    Fixture f;
    CHECK_THAT(f.load("seconds = -4\n"), Catch::StartsWith("cli: ") && Catch::Contains("seconds"));
    Fixture g;
    CHECK_THAT(g.load("regime = \"sideways\"\n"), Catch::StartsWith("cli: ") && Catch::Contains("sideways"));
}

TEST_CASE("percentiles: a row reports the project's interpolated percentiles", "[scenario-file]") {
    std::vector<double> v;
    for (int i = 1; i <= 1000; ++i) v.push_back(i);
    const Stats s = stats(v); // h = q (n - 1): measure/tests/test_percentile.cpp has the hand computation
    CHECK(s.count == 1000);
    CHECK(s.p50 == Approx(500.5));
    CHECK(s.p99 == Approx(990.01));
    CHECK(s.max == 1000);
    CHECK(stats({}).count == 0);
}

TEST_CASE("a negative number for a positive option says so in words, not as a 300-digit range", "[scenario-file][bad-input]") {
    Fixture f;
    const std::string err = f.load("", {"--seconds=-1"});
    CHECK_THAT(err, Catch::Contains("'-1' must be more than zero"));
    CHECK(err.size() < 120);
    CHECK_THAT(f.load("", {"--seconds=abc"}), Catch::Contains("'abc' is not a number"));
}

TEST_CASE("a scenario file that cannot be read says why and what a scenario file is", "[scenario-file][bad-input]") {
    std::string text;
    const std::string err = read_config("/nonexistent/dir/s.toml", text);
    CHECK_THAT(err, Catch::Contains("'/nonexistent/dir/s.toml'") && Catch::Contains("No such file or directory") &&
                        Catch::Contains("scenarios/configs/"));
}

TEST_CASE("without --out, rows go to a run folder of their own, never to the committed results/scenarios", "[scenario-file]") {
    Common c;
    CHECK_THAT(out_dir(c), Catch::StartsWith("results/runs/"));
    CHECK(out_dir(c) == run_folder()); // one folder for the whole process
    c.out_dir = "results/scenarios";
    CHECK(out_dir(c) == "results/scenarios");
}

namespace {
struct Parsed {
    int code;
    std::string err;
};
// parse_args on a scenario file with these lines, then the extra command-line arguments.
Parsed parse_file(const std::string &toml, std::vector<std::string> extra = {}) {
    const std::string path = "/tmp/marllb_scenario_file_" + std::to_string(getpid()) + ".toml";
    std::ofstream(path) << toml;
    Fixture f;
    std::vector<std::string> cmdline{"--config", path};
    cmdline.insert(cmdline.end(), extra.begin(), extra.end());
    std::ostringstream err;
    auto *old = std::cerr.rdbuf(err.rdbuf());
    const int code = parse_args(f.app, cmdline);
    std::cerr.rdbuf(old);
    std::remove(path.c_str());
    std::string e = err.str();
    const auto at = e.find(path);
    if (at != std::string::npos) e.replace(at, path.size(), "s.toml");
    return {code, e};
}
} // namespace

TEST_CASE("a value of the file that the option refuses keeps its file:line and exits 2", "[scenario-file][bad-input]") {
    const Parsed range = parse_file("regime = \"reactive\"\nseconds = -4\n");
    CHECK(range.code == 2);
    CHECK_THAT(range.err, Catch::StartsWith("test: s.toml:2: ") && Catch::Contains("'-4' must be more than zero") &&
                              Catch::EndsWith("(run test --help for the options)\n"));
    const Parsed member = parse_file("regime = \"sideways\"\n");
    CHECK(member.code == 2);
    CHECK_THAT(member.err, Catch::StartsWith("test: s.toml:1: ") && Catch::Contains("sideways"));
    const Parsed type = parse_file("seconds = \"soon\"\n");
    CHECK(type.code == 2);
    CHECK_THAT(type.err, Catch::StartsWith("test: s.toml:1: ") && Catch::Contains("'soon' is not a number"));
    // The same value on the command line names no file; a good file with a bad command line blames the command line.
    const Parsed cli = parse_file("seconds = 3\n", {"--seconds=-1"});
    CHECK(cli.code == 2);
    CHECK_THAT(cli.err, Catch::StartsWith("test: --seconds: ") && !Catch::Contains("s.toml"));
    CHECK(parse_file("seconds = 3\n", {"--seconds=5"}).code == -1);
}

TEST_CASE("every binary's --version and an unknown option go through parse_args", "[scenario-file]") {
    CHECK(parse_file("", {"--version"}).code == 0);
    const Parsed unknown = parse_file("", {"--no-such-option"});
    CHECK(unknown.code == 2);
    CHECK(std::count(unknown.err.begin(), unknown.err.end(), '\n') == 1);
}
