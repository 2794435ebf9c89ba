// Writes the fuzzers' seed corpora (committed in core/fuzz/corpus/): real region images and
// real actions, the starting points a fuzzer mutates.
//
//   fuzz_make_corpus OUT_DIR

#include <marllb/measure/payload.hpp>
#include <marllb/shm.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

using namespace marllb::shm;
namespace fs = std::filesystem;

namespace {
void put(const fs::path &p, const std::vector<char> &bytes) {
    std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}
std::vector<char> slurp(const fs::path &p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}
} // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 64;
    }
    const fs::path out = argv[1];
    fs::create_directories(out / "fuzz_region_image");
    fs::create_directories(out / "fuzz_action");
    const std::string name = "marllb_make_corpus_" + std::to_string(getpid());
    {
        auto lb = LbRegion::create(name);
        if (!lb) return 1;
        auto agent = AgentRegion::attach(name);
        if (!agent) return 1;
        MsgOut m;
        for (int i = 0; i < 6; ++i) {
            marllb::measure::fill_observation(m, lb->next_sequence());
            lb->publish(m);
        }
        MsgIn a;
        marllb::measure::fill_action(a, 5, 7);
        (void)agent->write_action(a, 1);
        (void)lb->poll_action();
    }
    auto image = slurp("/dev/shm/" + name);
    (void)unlink_region(name);
    image.insert(image.begin(), char(0)); // shape 0: the file as is
    put(out / "fuzz_region_image" / "valid_region", image);
    put(out / "fuzz_region_image" / "truncated_region", std::vector<char>(image.begin(), image.begin() + 1 + 600));
    std::vector<char> overlay = {char(1), char(0), char(0)}; // shape 1: overlay at offset 0
    overlay.insert(overlay.end(), image.begin() + 1, image.begin() + 1 + 512);
    put(out / "fuzz_region_image" / "overlay_header", overlay);
    std::vector<char> ring = {char(1), char((MARLLB_RING_OFFSET / 8) & 0xff), char((MARLLB_RING_OFFSET / 8) >> 8)};
    ring.insert(ring.end(), image.begin() + 1 + MARLLB_RING_OFFSET, image.begin() + 1 + MARLLB_RING_OFFSET + 3072);
    put(out / "fuzz_region_image" / "overlay_ring", ring);

    for (std::uint32_t n : {1u, 7u, 64u}) {
        MsgIn a;
        marllb::measure::fill_action(a, 3, n);
        std::vector<char> bytes(8 + sizeof a);
        const std::uint64_t newest = 10;
        std::memcpy(bytes.data(), &newest, 8);
        std::memcpy(bytes.data() + 8, &a, sizeof a);
        put(out / "fuzz_action" / ("valid_n" + std::to_string(n)), bytes);
    }
    return 0;
}
