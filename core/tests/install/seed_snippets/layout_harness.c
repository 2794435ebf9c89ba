/* The seed's layout snippets, verbatim, beside the installed ABI header: every size and field
 * offset of the seed's msg_out_t, msg_in_t and reservoir types equals the ABI's, so code
 * written to the seed's structs reads and writes the region's bytes. */
#include <stddef.h>
#include <stdint.h>

#include "layout_msg_out.snippet"
#include "layout_msg_in.snippet"
#include "layout_reservoir.snippet"

#include <marllb/shm_layout.h>

#define SAME(seed_t, abi_t, field) \
    _Static_assert(offsetof(seed_t, field) == offsetof(abi_t, field), #seed_t "." #field " moved")

_Static_assert(sizeof(msg_out_t) == sizeof(marllb_msg_out_t), "msg_out_t size");
SAME(msg_out_t, marllb_msg_out_t, sequence_id);
SAME(msg_out_t, marllb_msg_out_t, timestamp_us);
SAME(msg_out_t, marllb_msg_out_t, active_as_bitmap);
SAME(msg_out_t, marllb_msg_out_t, num_active_as);
SAME(msg_out_t, marllb_msg_out_t, reserved);
SAME(msg_out_t, marllb_msg_out_t, as_stats);
SAME(msg_out_t, marllb_msg_out_t, as_stats[1].n_flow_on);
SAME(msg_out_t, marllb_msg_out_t, as_stats[1].reservoir_features[9]);
_Static_assert(MAX_AS == MARLLB_MAX_AS && RESERVOIR_CAPACITY == MARLLB_RESERVOIR_CAPACITY &&
               NUM_FEATURES == MARLLB_NUM_FEATURES && RING_BUFFER_SIZE == MARLLB_RING_SLOTS, "constants");

_Static_assert(sizeof(msg_in_t) == sizeof(marllb_msg_in_t), "msg_in_t size (792: the seed's 784 miscounts)");
SAME(msg_in_t, marllb_msg_in_t, sequence_id);
SAME(msg_in_t, marllb_msg_in_t, timestamp_us);
SAME(msg_in_t, marllb_msg_in_t, num_servers);
SAME(msg_in_t, marllb_msg_in_t, reserved);
SAME(msg_in_t, marllb_msg_in_t, weights);
SAME(msg_in_t, marllb_msg_in_t, alias_table);
SAME(msg_in_t, marllb_msg_in_t, alias_table[63].prob);
SAME(msg_in_t, marllb_msg_in_t, alias_table[63].alias);

_Static_assert(sizeof(reservoir_raw_t) == sizeof(marllb_reservoir_raw_t), "reservoir_raw_t size");
SAME(reservoir_raw_t, marllb_reservoir_raw_t, values);
SAME(reservoir_raw_t, marllb_reservoir_raw_t, timestamps);
_Static_assert(sizeof(reservoir_data_t) == sizeof(marllb_reservoir_data_t), "reservoir_data_t size");
SAME(reservoir_data_t, marllb_reservoir_data_t, fct);
SAME(reservoir_data_t, marllb_reservoir_data_t, flow_duration);

int main(void) { return 0; }
