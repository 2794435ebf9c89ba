/*
 * ring.pml — the observation ring of marllb-shm, checked with spin (core/model/check.sh).
 *
 * The LB publishes sequence ids 1..MAXSEQ into a 4-slot seqlock ring, crashing at any step
 * (up to MAXCRASH times) and restarting with recovery; the reader reads in order or newest
 * (with fallback), at any speed. Memory is sequentially consistent here: the fences' part of
 * the argument is in docs/design/seqlock.md. Step labels (W0, P1, R0, ...) match the code;
 * docs/design/model.md maps each to its line.
 *
 * Properties:
 *   P1 a message returned to the reader is never torn
 *   P2 sequence ids returned never go back, and no id is returned twice
 *   P3 loss accounting is exact: returned + lost + skipped == published, at the end
 *
 * Mutants (spin -DMUTANT_x) re-introduce known defects; check.sh requires each to fail:
 *   MUTANT_NO_RECHECK       the reader keeps a copy without re-checking the lock (R3)
 *   MUTANT_PUBLISH_EARLY    the writer names the slot newest before writing it (seed defect 1)
 *   MUTANT_RESET_SEQ        a restarted LB starts again at sequence 1 (MARLLB's restart bug)
 *   MUTANT_NEWEST_TWICE     read_newest returns the newest again when nothing is newer
 */
#define SLOTS 4
#ifndef MAXSEQ
#define MAXSEQ 6
#endif
#ifndef MAXCRASH
#define MAXCRASH 1
#endif

byte lock[SLOTS];   /* 2*seq complete, odd while written, 0 empty or repaired */
byte d0[SLOTS];     /* payload: two words, each holds the seq that wrote it */
byte d1[SLOTS];
byte published;     /* published_seq */
byte generation;
bool kill_lb;
byte crashes;
bool lb_done;
byte last;          /* reader: newest seq returned, and its tallies */
byte reads;
byte lost;
byte skipped;

active proctype Killer() {
    do
    :: crashes < MAXCRASH && !lb_done -> crashes++; kill_lb = true; (!kill_lb || lb_done)
    :: break
    od
}

active proctype LB() {
    byte seq = 1;
    byte s;
    byte i;
    byte l;
    byte newest;
restart:
    {
        if
        :: generation > 0 ->                      /* reopen: LbRegion::recover */
#ifdef MUTANT_RESET_SEQ
            seq = 1;
#else
            newest = published;
            i = 0;
            do
            :: i < SLOTS ->
                l = lock[i];
                if
                :: l % 2 == 1 -> lock[i] = 0             /* RC1 repair a half-written slot */
                :: l % 2 == 0 && l / 2 > newest -> newest = l / 2
                :: else -> skip
                fi;
                i++
            :: else -> break
            od;
            if
            :: newest > published -> published = newest /* RC2 complete, unpublished */
            :: else -> skip
            fi;
            seq = published + 1;                         /* RC3 continue */
#endif
            i = 0; l = 0; newest = 0
        :: else -> skip
        fi;
        generation++;
        do
        :: seq <= MAXSEQ ->                       /* LbRegion::publish */
            s = (seq - 1) % SLOTS;
#ifdef MUTANT_PUBLISH_EARLY
            published = seq;
            d0[s] = seq;
            d1[s] = seq;
            lock[s] = 2 * seq;
#else
            lock[s] = 2 * seq - 1;                /* W0, W1 */
            d0[s] = seq;
            d1[s] = seq;
            lock[s] = 2 * seq;                    /* W2 */
            published = seq;                      /* P1 */
#endif
            seq++;
            s = 0
        :: else -> break
        od;
        lb_done = true
    } unless { kill_lb -> kill_lb = false };
    if
    :: !lb_done -> goto restart
    :: else -> skip
    fi
}

/* AgentRegion::try_read_slot: copies slot(q) if it holds q complete before and after. */
inline try_read(q) {
    s = (q - 1) % SLOTS;
    l1 = lock[s];                                 /* R0 */
    c0 = d0[s];
    c1 = d1[s];
    l2 = lock[s];                                 /* R2, R3 */
#ifdef MUTANT_NO_RECHECK
    l2 = l1;
#endif
    ok = (l1 == 2 * q && l2 == l1)
}

active proctype Reader() {
    byte next;
    byte p;
    byte q;
    byte s;
    byte l1;
    byte l2;
    byte c0;
    byte c1;
    bool ok;
    do
    :: published > last ->                        /* AgentRegion::read_next */
        next = last + 1;
        p = published;                            /* P2 */
        if
        :: p - next >= SLOTS -> lost = lost + (p - (SLOTS - 1) - next); next = p - (SLOTS - 1)
        :: else -> skip
        fi;
        try_read(next);
        if
        :: ok ->
            assert(c0 == next && c1 == next);     /* P1 */
            assert(next > last);                  /* P2 */
            reads++
        :: else -> lost++                         /* rewritten or repaired: gone */
        fi;
        last = next;
        next = 0; p = 0; s = 0; l1 = 0; l2 = 0; c0 = 0; c1 = 0; ok = false
#ifdef MUTANT_NEWEST_TWICE
    :: published > 0 && published >= last ->      /* the old contract: the newest, even if returned */
#else
    :: published > last ->                        /* AgentRegion::read_newest (else: again) */
#endif
        p = published;                            /* P2 */
        try_read(p);
        q = p;
        do
        :: ok -> break
#ifdef MUTANT_NEWEST_TWICE
        :: !ok && q > 1 && q + SLOTS > p + 1 && q - 1 >= last -> q--; try_read(q)
#else
        :: !ok && q > 1 && q + SLOTS > p + 1 && q - 1 > last -> q--; try_read(q)
#endif
        :: else -> break
        od;
        if
        :: ok ->
            assert(c0 == q && c1 == q);           /* P1 */
            assert(q > last);                     /* P2: never back, never twice */
            skipped = skipped + (q - last - 1); reads++; last = q
        :: else -> skip                           /* again */
        fi;
        p = 0; q = 0; s = 0; l1 = 0; l2 = 0; c0 = 0; c1 = 0; ok = false
    :: lb_done && last == published -> break
    od;
    assert(reads + lost + skipped == published)   /* P3 */
}
