/* The seed's VPP plugin snippet (vpp_plugin.snippet) at file scope, as in its node.c, with the
 * seed's include name and what the snippet leaves to VPP and the plugin around it. */
#include "shm_layout.h"

typedef unsigned long uword;
typedef struct vlib_main vlib_main_t;

static shm_region_t *shm;
static int should_update_shm(void) { return 1; }
static void prepare_observation(msg_out_t *obs) { memset(obs, 0, sizeof *obs); }
static int is_new_action(const msg_in_t *action) { return action->sequence_id != 0; }
static void update_lb_weights(const float *weights) { (void)weights; }

#include "vpp_plugin.snippet"

int main(void)
{
    uword (*volatile node)(vlib_main_t *, ...) = lb_node_fn; /* compiled and linked, not run */
    shm = shm_create("marllb_never_created", sizeof(shm_data_t));
    return node == 0;
}
