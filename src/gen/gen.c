/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gen.c - a synthetic population in the exchange form (strongroom/gen.h).
 *
 * Person i of seed s is a pure function of (s, i): a per-person xoshiro256**
 * state is derived from (s, i) with splitmix64, a model of the person (small
 * numbers and indexes into the word lists of gen_data.c) is drawn from it,
 * and the model is then rendered as compact JSON or as a CSV row, so the two
 * forms of one person always agree. Nothing reads the clock: every date lies
 * on or before SR_GEN_REFERENCE_DATE.
 *
 * SSNs are distinct within a seed: the index is sent through a keyed Feistel
 * permutation of [0, 2^30) and cycle-walked into [0, N), N = 898 areas x 99
 * groups x 9999 serials (888,931,098), then split into area/group/serial
 * with 000 and 666 skipped. Indexes of N and above wrap (SSNs repeat).
 *
 * Non-cryptographic on purpose: this is test data, and it must be fast
 * (well over 100,000 people a second) and use constant memory (one buffer
 * per generator, capped).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gen_int.h"
#include "record/record.h"

/* One person is at most a few tens of KiB; the cap only guards bugs. */
#define GEN_BUF_MAX ((size_t)1 << 20)
#define SSN_ROUNDS 6
#define SSN_AREAS 898u /* 001-899 without 666 */
#define SSN_GROUPS 99u
#define SSN_SERIALS 9999u
#define SSN_SPACE ((uint64_t)SSN_AREAS * SSN_GROUPS * SSN_SERIALS)

#define MAX_FORMER 2
#define MAX_ADDR 4
#define MAX_PHONE 3
#define MAX_EMAIL 3
#define MAX_JOB 4
#define MAX_INV 3
#define MAX_REL 8
#define MAX_FC 2
#define MAX_EV 2
#define MAX_REF 3
#define MAX_NOTE 4
#define NO_DATE INT32_MIN

/* ---- pseudo-random numbers ------------------------------------------- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t mix64(uint64_t x)
{
    return splitmix64(&x);
}

static void rng_seed(rng *r, uint64_t x)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1; /* the one state xoshiro cannot leave */
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** 1.0 (Blackman and Vigna). */
static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n) by multiply-shift; the bias (< 2^-32) is immaterial. */
static uint32_t rng_below(rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static int32_t rng_range(rng *r, int32_t lo, int32_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int32_t)rng_below(r, (uint32_t)(hi - lo) + 1u);
}

static bool rng_chance(rng *r, uint32_t permille)
{
    return rng_below(r, 1000) < permille;
}

static double rng_unit(rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* An index into a list ordered most frequent first: density falls from
 * twice the mean at the front to two thirds of it at the back. */
static uint32_t pick_skewed(rng *r, uint32_t n)
{
    double u = rng_unit(r);
    uint32_t i = (uint32_t)((double)n * (u * (1.0 + u) * 0.5));
    return i < n ? i : n - 1;
}

/* ---- the generator ------------------------------------------------------- */

typedef struct g_name {
    const char *given;
    const char *middle;
    bool middle_initial;
    const char *fam1;
    const char *fam2; /* second half of a hyphenated family name, or NULL */
    const char *suffix;
} g_name;

typedef struct g_addr {
    bool foreign;
    uint32_t place; /* gen_cities or gen_places index */
    uint32_t number;
    uint32_t street, type;
    uint32_t unit; /* 0: none */
    uint8_t unit_style;
    int32_t from, to;
} g_addr;

typedef struct g_phone {
    uint8_t style;      /* 0 "+1 (a) ..", 1 "a-..", 2 "(a) ..", 3 foreign */
    const char *prefix; /* area code, or foreign prefix */
    uint32_t line;      /* 0..99, in the fictional 555-01xx range */
} g_phone;

typedef struct g_email {
    uint8_t style;
    const char *domain;
    uint32_t digits;
} g_email;

typedef struct g_job {
    uint32_t agency, position;
    int32_t contractor; /* gen_contractors index, -1 for employees */
    bool current;
    int32_t start, end;
} g_job;

typedef struct g_rel {
    const char *relation;
    g_name name;
    int32_t birth;
    const char *citizenship;
} g_rel;

typedef struct g_fc {
    uint32_t who, nature, freq;
} g_fc;

typedef struct g_event {
    int32_t date;
    uint32_t what;
    bool details;
    uint8_t amount_kind; /* 0 none, 1 integer dollars, 2 dollars.cents */
    uint32_t cents;
} g_event;

typedef struct g_ref {
    const char *given, *family;
    g_phone phone;
    uint32_t relation;
} g_ref;

enum { EV_FIN, EV_POLICE, EV_DRUG, EV_MENTAL, EV_KINDS };

typedef struct g_inv {
    uint32_t type;
    uint32_t case_serial; /* 0..99999999 */
    bool closed;
    int32_t opened, closed_on;
    int adjudication; /* -1 absent */
    bool sections;
    unsigned nrel, nfc, nev[EV_KINDS], nref, nnote;
    g_rel rel[MAX_REL];
    g_fc fc[MAX_FC];
    g_event ev[EV_KINDS][MAX_EV];
    g_ref ref[MAX_REF];
    uint32_t note[MAX_NOTE];
    int32_t interview;
} g_inv;

typedef struct g_person {
    uint32_t ssn_area, ssn_group, ssn_serial;
    int sex; /* 0 F, 1 M, 2 X */
    g_name name;
    unsigned nformer;
    g_name former[MAX_FORMER];
    int32_t birth;
    bool foreign_born;
    uint32_t birth_place;
    const char *citizenship[2];
    unsigned ncit;
    unsigned naddr, nphone, nemail, njob, ninv, nfp;
    g_addr addr[MAX_ADDR];
    g_phone phone[MAX_PHONE];
    g_email email[MAX_EMAIL];
    g_job job[MAX_JOB];
    g_inv inv[MAX_INV];
    uint8_t finger[10];
    bool ansi;
    uint64_t fp_seed;
} g_person;

struct sr_gen {
    uint64_t person_key;
    uint64_t ssn_key[SSN_ROUNDS];
    int32_t ref;          /* SR_GEN_REFERENCE_DATE in days */
    uint32_t city_weight; /* sum of gen_cities[].weight */
    uint32_t agency_weight;
    g_person p; /* the model of the person being rendered */
    unsigned ncols;
    int8_t col[RECORD_CSV_MAX_COLS]; /* csv_col per header position, -1 */
    sr_buf out;
};

/* ---- SSNs: a keyed permutation of the valid space ------------------------ */

/* A balanced Feistel network on 30 bits is a bijection of [0, 2^30) for any
 * round function; cycle-walking restricts it to a bijection of [0, N). */
static uint32_t ssn_feistel(const sr_gen *g, uint32_t x)
{
    uint32_t l = x >> 15, r = x & 0x7fffu;
    for (int i = 0; i < SSN_ROUNDS; i++) {
        uint32_t t = l ^ (uint32_t)(mix64(r ^ g->ssn_key[i]) & 0x7fffu);
        l = r;
        r = t;
    }
    return (l << 15) | r;
}

static void ssn_of_index(const sr_gen *g, uint64_t index, g_person *p)
{
    uint32_t v = (uint32_t)(index % SSN_SPACE);
    do
        v = ssn_feistel(g, v);
    while (v >= SSN_SPACE);
    uint32_t area = v / (SSN_GROUPS * SSN_SERIALS) + 1u;
    uint32_t rest = v % (SSN_GROUPS * SSN_SERIALS);
    if (area >= 666)
        area++;
    p->ssn_area = area;
    p->ssn_group = rest / SSN_SERIALS + 1u;
    p->ssn_serial = rest % SSN_SERIALS + 1u;
}

/* ---- dates --------------------------------------------------------------- */

/* The same day of the month n years later (29 February becomes 1 March). */
static int32_t years_after(int32_t day, int32_t n)
{
    int32_t y;
    uint32_t m, d;
    date_civil_from_days(day, &y, &m, &d);
    return date_days_from_civil(y + n, m, d);
}

static int32_t min32(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

static int32_t max32(int32_t a, int32_t b)
{
    return a > b ? a : b;
}

static void sort_days(int32_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int32_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

/* ---- drawing a person ---------------------------------------------------- */

static const char *const suffixes[] = {"Jr.", "Sr.", "II", "III", "IV"};
static const char *const relations_parent[] = {"Mother", "Father"};
static const char *const fc_nature[] = {"Friend",
                                        "Colleague",
                                        "Relative by marriage",
                                        "Former classmate",
                                        "Business associate",
                                        "Neighbor while abroad",
                                        "Former host family"};
static const char *const fc_freq[] = {"Weekly",   "Monthly", "Quarterly",
                                      "Annually", "Rarely",  "Once"};
static const char *const ref_relation[] = {
    "Coworker",         "Supervisor", "Neighbor", "Friend",
    "Former classmate", "Roommate",   "Mentor",   "Former supervisor"};
static const char *const inv_types[] = {"tier1", "tier2", "tier3",
                                        "tier4", "tier5", "reinvestigation"};
static const char *const adjudications[] = {"pending", "favorable",
                                            "unfavorable"};
static const char *const mail_domains[] = {"example.com", "example.net",
                                           "example.org", "mail.example",
                                           "inbox.example"};

typedef struct ev_text {
    const char *kind;
    const char *details;
    uint32_t amount_min, amount_max; /* dollars; 0,0: never an amount */
} ev_text;

static const ev_text ev_fin[] = {
    {"Delinquent debt",
     "Credit card account more than 120 days past due; payment plan "
     "established.",
     800, 24000},
    {"Collection account", "Medical bill placed for collection; paid in full.",
     150, 6000},
    {"Tax lien", "State tax lien released after payment.", 1200, 40000},
    {"Bankruptcy", "Chapter 7 bankruptcy discharged.", 15000, 180000},
    {"Wage garnishment", "Garnishment for defaulted student loans; satisfied.",
     2000, 35000},
    {"Foreclosure", "Primary residence foreclosed after a job loss.", 90000,
     420000},
    {"Late payments",
     "Subject described the account as \"an oversight\" and brought it "
     "current.",
     100, 3000}};
static const ev_text ev_police[] = {
    {"Traffic citation", "Speeding, 15 mph over the limit; fine paid.", 75,
     350},
    {"Reckless driving", "Charge reduced to improper driving.", 250, 1000},
    {"Driving under the influence",
     "Completed alcohol education program; probation ended.", 500, 2500},
    {"Disorderly conduct", "Charge dismissed.", 0, 0},
    {"Possession of marijuana", "Misdemeanor; adjudication withheld.", 100,
     500},
    {"Shoplifting", "Juvenile offense; record sealed.", 0, 0}};
static const ev_text ev_drug[] = {
    {"Marijuana use", "Experimental use in college; none since.", 0, 0},
    {"Misuse of prescription drugs",
     "Used a roommate's prescription stimulant during exams.", 0, 0},
    {"Cocaine use", "Single use at a party; none since.", 0, 0},
    {"Marijuana use",
     "Used where legal under state law; stopped before "
     "applying.",
     0, 0}};
static const ev_text ev_mental[] = {
    {"Counseling", "Grief counseling after a death in the family; completed.",
     0, 0},
    {"Outpatient treatment",
     "Treatment for anxiety; provider reports no concerns.", 0, 0},
    {"Evaluation", "Employer-referred evaluation; no diagnosis.", 0, 0}};

typedef struct ev_table {
    const ev_text *v;
    uint32_t n;
    uint32_t permille; /* chance an investigation has this section */
} ev_table;

#define EV_TABLE(a, pm)                                                        \
    {                                                                          \
        a, (uint32_t)(sizeof(a) / sizeof(a[0])), pm                            \
    }
static const ev_table ev_tables[EV_KINDS] = {
    EV_TABLE(ev_fin, 150), EV_TABLE(ev_police, 80), EV_TABLE(ev_drug, 100),
    EV_TABLE(ev_mental, 40)};
static const char *const ev_names[EV_KINDS] = {"financial", "police",
                                               "drug_use", "mental_health"};

/* Sentences of an investigator's notes; 0 is dated (the interview). */
static const char *const notes[] = {
    "Subject interview completed on ",
    "Employment verified with the current supervisor.",
    "Education records verified.",
    "Credit report reviewed; no derogatory information.",
    "Credit report reviewed; delinquent accounts discussed with the subject "
    "and resolved.",
    "Police record checks returned no record.",
    "Local agency checks completed in all jurisdictions of residence.",
    "Two developed sources corroborated the listed references.",
    "Subject described the debt as \"a misunderstanding with the lender\".",
    "Neighborhood checks completed; neighbors describe the subject as "
    "reliable and quiet.",
    "Foreign travel reported; no security concerns noted.",
    "Subject disclosed all foreign contacts listed on the SF-86.",
    "Spouse's citizenship verified through USCIS records.",
    "Military records (DD-214) reviewed.",
    "Subject was candid and cooperative throughout the interview.",
    "Mitigating conditions under Guideline F, AG 20(d), apply.",
    "Continuous vetting enrollment confirmed.",
    "Case returned for additional coverage of the financial issue.",
    "Reference could not be reached; an alternate source was interviewed.",
    "Selective Service registration verified.",
    "Subject's statement: \"I reported this on my last SF-86.\"",
    "Signed releases scanned to \\\\casefiles\\intake."};
#define NOTES_N ((uint32_t)(sizeof(notes) / sizeof(notes[0])))

#define NELEM(a) ((uint32_t)(sizeof(a) / sizeof(a[0])))

static uint32_t pick_city(const sr_gen *g, rng *r)
{
    uint32_t x = rng_below(r, g->city_weight);
    for (uint32_t i = 0; i < gen_cities_n; i++) {
        if (x < gen_cities[i].weight)
            return i;
        x -= gen_cities[i].weight;
    }
    return 0;
}

static uint32_t pick_agency(const sr_gen *g, rng *r)
{
    uint32_t x = rng_below(r, g->agency_weight);
    for (uint32_t i = 0; i < gen_agencies_n; i++) {
        if (x < gen_agencies[i].weight)
            return i;
        x -= gen_agencies[i].weight;
    }
    return 0;
}

static const char *pick_given(rng *r, int sex)
{
    const gen_list *l = sex == 0             ? &gen_given_female
                        : sex == 1           ? &gen_given_male
                        : rng_chance(r, 500) ? &gen_given_female
                                             : &gen_given_male;
    return l->v[pick_skewed(r, l->n)];
}

static const char *pick_family(rng *r)
{
    return gen_family.v[pick_skewed(r, gen_family.n)];
}

static void draw_name(rng *r, int sex, g_name *n)
{
    n->given = pick_given(r, sex);
    n->middle = NULL;
    n->middle_initial = false;
    if (rng_chance(r, 580)) {
        n->middle = pick_given(r, sex);
        /* An initial only for ASCII names: "J." never splits a letter. */
        n->middle_initial =
            rng_chance(r, 120) && (unsigned char)n->middle[0] < 0x80;
    }
    n->fam1 = pick_family(r);
    n->fam2 = rng_chance(r, 15) ? pick_family(r) : NULL;
    n->suffix = NULL;
}

static void draw_phone(rng *r, g_phone *ph, const char *area)
{
    uint32_t s = rng_below(r, 10);
    ph->style = s < 7 ? 0 : s < 9 ? 1 : 2;
    ph->prefix = area;
    ph->line = rng_below(r, 100);
}

/* Split [lo, hi] into n consecutive spells with short gaps: start[i] and
 * end[i] (end of the last is hi). Needs hi - lo >= 4 * n. */
static void draw_spells(rng *r, int32_t lo, int32_t hi, unsigned n, int32_t gap,
                        int32_t *start, int32_t *end)
{
    int32_t cut[MAX_JOB + 1];
    cut[0] = lo;
    for (unsigned i = 1; i < n; i++)
        cut[i] = rng_range(r, lo + 2, hi - 2);
    sort_days(cut, n);
    cut[n] = hi;
    for (unsigned i = 0; i < n; i++) {
        start[i] = cut[i];
        int32_t e = cut[i + 1] - 1;
        if (i + 1 == n)
            e = hi;
        else if (gap > 0)
            e -= rng_range(r, 0, gap);
        end[i] = max32(e, start[i]);
    }
}

static void draw_relatives(const sr_gen *g, rng *r, const g_person *p,
                           const char *birth_family, g_inv *v)
{
    const char *cit =
        p->foreign_born ? gen_places[p->birth_place].country : "US";
    unsigned n = 0;
    for (int k = 0; k < 2; k++) {
        if (!rng_chance(r, 900))
            continue;
        g_rel *rl = &v->rel[n++];
        rl->relation = relations_parent[k];
        draw_name(r, k == 0 ? 0 : 1, &rl->name);
        rl->name.fam1 = birth_family;
        rl->name.fam2 = NULL;
        if (k == 1 && p->name.suffix != NULL &&
            strcmp(p->name.suffix, "Sr.") != 0) {
            rl->name.given = p->name.given; /* "Jr." is named for him */
            rl->name.middle = p->name.middle;
            rl->name.middle_initial = p->name.middle_initial;
        }
        if (k == 0 && rng_chance(r, 150))
            rl->name.fam1 = pick_family(r);
        rl->birth = rng_chance(r, 850)
                        ? p->birth - rng_range(r, 19 * 365, 42 * 365)
                        : NO_DATE;
        rl->citizenship = cit;
    }
    int32_t age_days = g->ref - p->birth;
    bool married = age_days > 22 * 365 && rng_chance(r, 620);
    const char *fam = p->name.fam1;
    if (married) {
        g_rel *rl = &v->rel[n++];
        rl->relation = "Spouse";
        int ssex = p->sex == 1 ? 0 : 1;
        if (rng_chance(r, 40))
            ssex = p->sex == 2 ? 0 : p->sex;
        draw_name(r, ssex, &rl->name);
        if (p->sex == 0 && p->nformer > 0) {
            rl->name.fam1 = p->name.fam2 ? p->name.fam2 : p->name.fam1;
            rl->name.fam2 = NULL;
        } else if (p->sex == 1 && ssex == 0 && rng_chance(r, 700)) {
            rl->name.fam1 = fam;
            rl->name.fam2 = NULL;
        }
        rl->birth = min32(p->birth + rng_range(r, -6 * 365, 6 * 365),
                          g->ref - 18 * 365);
        rl->citizenship = rng_chance(r, 900)
                              ? "US"
                              : gen_places[rng_below(r, gen_places_n)].country;
        if (age_days > 25 * 365) {
            unsigned kids = rng_below(r, 4);
            for (unsigned i = 0; i < kids && n < MAX_REL; i++) {
                g_rel *c = &v->rel[n++];
                bool girl = rng_chance(r, 490);
                c->relation = girl ? "Daughter" : "Son";
                draw_name(r, girl ? 0 : 1, &c->name);
                c->name.fam1 = p->sex == 0 ? rl->name.fam1 : fam;
                c->name.fam2 = NULL;
                int32_t lo = p->birth + 21 * 365;
                int32_t hi = min32(g->ref - 30, p->birth + 44 * 365);
                c->birth = rng_range(r, lo, max32(lo, hi));
                c->citizenship = "US";
            }
        }
    }
    unsigned sibs = rng_below(r, 3);
    for (unsigned i = 0; i < sibs && n < MAX_REL; i++) {
        g_rel *s = &v->rel[n++];
        bool sister = rng_chance(r, 500);
        s->relation = sister ? "Sister" : "Brother";
        draw_name(r, sister ? 0 : 1, &s->name);
        s->name.fam1 = birth_family;
        s->name.fam2 = NULL;
        s->birth =
            rng_chance(r, 900)
                ? min32(p->birth + rng_range(r, -9 * 365, 9 * 365), g->ref - 1)
                : NO_DATE;
        s->citizenship = rng_chance(r, 950) ? cit : "US";
    }
    v->nrel = n;
}

static void draw_sections(const sr_gen *g, rng *r, const g_person *p,
                          const char *birth_family, g_inv *v, bool full)
{
    v->sections = true;
    v->nrel = v->nfc = v->nref = v->nnote = 0;
    for (int k = 0; k < EV_KINDS; k++)
        v->nev[k] = 0;
    if (full || rng_chance(r, 300))
        draw_relatives(g, r, p, birth_family, v);
    if (rng_chance(r, p->foreign_born ? 500 : 130)) {
        v->nfc = 1 + rng_below(r, MAX_FC);
        for (unsigned i = 0; i < v->nfc; i++) {
            v->fc[i].who = rng_below(r, gen_contacts_n);
            v->fc[i].nature = rng_below(r, NELEM(fc_nature));
            v->fc[i].freq = rng_below(r, NELEM(fc_freq));
        }
    }
    int32_t lo = years_after(p->birth, 16);
    for (int k = 0; k < EV_KINDS; k++) {
        const ev_table *t = &ev_tables[k];
        if (!rng_chance(r, t->permille))
            continue;
        v->nev[k] = rng_chance(r, 750) ? 1 : 2;
        for (unsigned i = 0; i < v->nev[k]; i++) {
            g_event *e = &v->ev[k][i];
            e->date = rng_range(r, lo, max32(lo, v->opened - 1));
            e->what = rng_below(r, t->n);
            e->details = rng_chance(r, 850);
            e->amount_kind = 0;
            const ev_text *x = &t->v[e->what];
            if (x->amount_max > 0 && rng_chance(r, 750)) {
                e->amount_kind = rng_chance(r, 500) ? 1 : 2;
                uint32_t dollars = (uint32_t)rng_range(
                    r, (int32_t)x->amount_min, (int32_t)x->amount_max);
                /* Cents never end in 0, so a reader printing the shortest
                 * round-trip form gives back exactly these digits. */
                uint32_t cents = rng_below(r, 90);
                cents = cents + cents / 9 + 1;
                e->cents = dollars * 100u + cents;
            }
        }
    }
    if (full || rng_chance(r, 400)) {
        v->nref = rng_chance(r, 850) ? 3 : 1 + rng_below(r, 2);
        for (unsigned i = 0; i < v->nref; i++) {
            g_ref *f = &v->ref[i];
            f->given = pick_given(r, (int)rng_below(r, 2));
            f->family = pick_family(r);
            draw_phone(r, &f->phone, gen_cities[pick_city(g, r)].area);
            f->relation = rng_below(r, NELEM(ref_relation));
        }
    }
    if (rng_chance(r, 900)) {
        v->nnote = 1 + rng_below(r, MAX_NOTE);
        uint32_t used = 0;
        for (unsigned i = 0; i < v->nnote; i++) {
            uint32_t k =
                i == 0 && rng_chance(r, 600) ? 0 : rng_below(r, NOTES_N);
            while (used & (1u << k))
                k = (k + 1) % NOTES_N;
            used |= 1u << k;
            v->note[i] = k;
        }
        v->interview = min32(v->opened + rng_range(r, 7, 90), g->ref);
    }
}

static void draw_investigations(const sr_gen *g, rng *r, g_person *p,
                                const char *birth_family)
{
    p->ninv = 0;
    if (!rng_chance(r, 600))
        return;
    unsigned want = rng_chance(r, 550) ? 1 : rng_chance(r, 660) ? 2 : 3;
    int32_t t = min32(p->job[0].start + rng_range(r, -120, 200), g->ref - 5);
    t = max32(t, years_after(p->birth, 18));
    for (unsigned i = 0; i < want && t <= g->ref; i++) {
        g_inv *v = &p->inv[p->ninv++];
        v->opened = t;
        v->case_serial = rng_below(r, 100000000u);
        if (i == 0) {
            uint32_t x = rng_below(r, 100);
            v->type = x < 15 ? 0 : x < 25 ? 1 : x < 65 ? 2 : x < 75 ? 3 : 4;
        } else {
            v->type = rng_chance(r, 800) ? 5 : 2 + rng_below(r, 3);
        }
        int32_t c = t + rng_range(r, 25, 420);
        /* Recent cases are often still open: backlogs run long. */
        v->closed =
            c <= g->ref && !(t > g->ref - 2 * 365 && rng_chance(r, 400));
        v->closed_on = v->closed ? c : NO_DATE;
        if (v->closed) {
            uint32_t x = rng_below(r, 1000);
            v->adjudication = x < 925 ? 1 : x < 960 ? 2 : 0;
        } else {
            v->adjudication = rng_chance(r, 500) ? 0 : -1;
        }
        v->sections = false;
        t += rng_range(r, 5 * 365, 7 * 365);
    }
    for (unsigned i = 0; i < p->ninv; i++) {
        bool last = i + 1 == p->ninv;
        if (last || rng_chance(r, 150))
            draw_sections(g, r, p, birth_family, &p->inv[i], last);
    }
}

static void draw_fingerprints(rng *r, g_person *p)
{
    p->nfp = 0;
    if (p->ninv == 0 || !rng_chance(r, 750))
        return;
    uint32_t x = rng_below(r, 100);
    uint8_t all[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    if (x < 70) { /* the two index fingers of a live-scan enrolment */
        p->nfp = 2;
        p->finger[0] = 2;
        p->finger[1] = 7;
    } else if (x < 75) {
        p->nfp = 10;
        memcpy(p->finger, all, 10);
    } else {
        p->nfp = 3 + rng_below(r, 4);
        for (unsigned i = 0; i < p->nfp; i++) {
            unsigned j = i + rng_below(r, 10 - i);
            uint8_t tmp = all[i];
            all[i] = all[j];
            all[j] = tmp;
        }
        memcpy(p->finger, all, p->nfp);
        for (unsigned i = 1; i < p->nfp; i++)
            for (unsigned j = i; j > 0 && p->finger[j - 1] > p->finger[j];
                 j--) {
                uint8_t tmp = p->finger[j];
                p->finger[j] = p->finger[j - 1];
                p->finger[j - 1] = tmp;
            }
    }
    p->ansi = rng_chance(r, 300);
    p->fp_seed = rng_next(r);
}

static void draw_person(const sr_gen *g, uint64_t index, g_person *p)
{
    rng rr, *r = &rr;
    rng_seed(r, g->person_key ^ (index * 0xd1b54a32d192ed03u));
    ssn_of_index(g, index, p);

    uint32_t sx = rng_below(r, 1000);
    p->sex = sx < 485 ? 0 : sx < 995 ? 1 : 2;

    /* Birth: three quarters from a triangle peaking around 1980 (the
     * federal workforce is middle-aged), a quarter spread over 1940-2004. */
    int32_t year;
    if (rng_chance(r, 750))
        year = 1955 + (int32_t)((rng_unit(r) + rng_unit(r)) * 24.99);
    else
        year = 1940 + (int32_t)rng_below(r, 65);
    int32_t jan1 = date_days_from_civil(year, 1, 1);
    p->birth =
        jan1 + (int32_t)rng_below(
                   r, (uint32_t)(date_days_from_civil(year + 1, 1, 1) - jan1));
    p->foreign_born = rng_chance(r, 100);
    p->birth_place = p->foreign_born ? rng_below(r, gen_places_n)
                                     : rng_below(r, gen_cities_n);
    p->ncit = 1;
    p->citizenship[0] = "US";
    if (p->foreign_born) {
        uint32_t c = rng_below(r, 100);
        if (c >= 65)
            p->citizenship[c < 90 ? 1 : 0] = gen_places[p->birth_place].country;
        if (c >= 65 && c < 90)
            p->ncit = 2;
    } else if (rng_chance(r, 30)) {
        p->ncit = 2;
        p->citizenship[1] = gen_places[rng_below(r, gen_places_n)].country;
    }

    draw_name(r, p->sex, &p->name);
    if (p->sex == 1 && rng_chance(r, 45))
        p->name.suffix = suffixes[rng_below(r, NELEM(suffixes))];
    const char *birth_family = p->name.fam1;
    int32_t adult = years_after(p->birth, 18);
    int32_t age = (g->ref - p->birth) / 365;

    /* Former names: mostly a maiden name given up on marriage. */
    p->nformer = 0;
    if (p->sex == 0 && age >= 23 && rng_chance(r, 420)) {
        g_name *f = &p->former[p->nformer++];
        *f = p->name;
        f->fam2 = NULL;
        if (rng_chance(r, 120)) { /* divorced and remarried */
            g_name *f2 = &p->former[p->nformer++];
            *f2 = p->name;
            f2->fam1 = pick_family(r);
            f2->fam2 = NULL;
        }
        if (rng_chance(r, 150)) {
            p->name.fam2 = pick_family(r); /* "Maiden-Married" */
        } else {
            p->name.fam1 = pick_family(r);
            p->name.fam2 = NULL;
        }
    } else if (rng_chance(r, 15)) {
        g_name *f = &p->former[p->nformer++];
        *f = p->name;
        f->fam1 = pick_family(r);
        f->fam2 = NULL;
    }

    /* Addresses, oldest first: the last is where they live now. */
    uint32_t na = rng_below(r, 100);
    p->naddr = na < 30 ? 1 : na < 65 ? 2 : na < 85 ? 3 : 4;
    int32_t alo = min32(adult + rng_range(r, 0, 4 * 365), g->ref - 400);
    int32_t astart[MAX_ADDR], aend[MAX_ADDR];
    draw_spells(r, alo, g->ref, p->naddr, 0, astart, aend);
    for (unsigned i = 0; i < p->naddr; i++) {
        g_addr *a = &p->addr[i];
        bool last = i + 1 == p->naddr;
        a->foreign = !last && rng_chance(r, p->foreign_born ? 200 : 25);
        a->place = a->foreign ? rng_below(r, gen_places_n) : pick_city(g, r);
        uint32_t nk = rng_below(r, 100);
        a->number = nk < 15   ? 1 + rng_below(r, 99)
                    : nk < 95 ? 100 + rng_below(r, 9900)
                              : 10000 + rng_below(r, 15000);
        a->street = pick_skewed(r, gen_streets.n);
        a->type = rng_below(r, gen_street_types.n);
        a->unit = rng_chance(r, 280) ? 1 + rng_below(r, 1200) : 0;
        a->unit_style = (uint8_t)rng_below(r, 3);
        a->from = astart[i];
        a->to = last ? NO_DATE : aend[i];
    }

    const gen_city *home = &gen_cities[p->addr[p->naddr - 1].foreign
                                           ? 0
                                           : p->addr[p->naddr - 1].place];
    uint32_t np = rng_below(r, 100);
    p->nphone = np < 5 ? 0 : np < 50 ? 1 : np < 90 ? 2 : 3;
    for (unsigned i = 0; i < p->nphone; i++) {
        const char *area = i == 0   ? home->area
                           : i == 2 ? "202"
                                    : gen_cities[pick_city(g, r)].area;
        draw_phone(r, &p->phone[i], area);
        if (i == 1 && p->foreign_born && rng_chance(r, 250)) {
            p->phone[i].style = 3;
            p->phone[i].prefix = gen_places[p->birth_place].phone;
        }
    }

    /* Employment, oldest first; careers end between 58 and 72. */
    uint32_t nj = rng_below(r, 100);
    p->njob = nj < 35 ? 1 : nj < 70 ? 2 : nj < 90 ? 3 : 4;
    int32_t retire = 58 + (int32_t)rng_below(r, 15);
    int32_t career_end = min32(g->ref, years_after(p->birth, retire));
    int32_t jlo = min32(adult + rng_range(r, 0, 8 * 365), career_end - 200);
    while (p->njob > 1 && career_end - jlo < (int32_t)p->njob * 60)
        p->njob--;
    int32_t jstart[MAX_JOB], jend[MAX_JOB];
    draw_spells(r, jlo, career_end, p->njob, 120, jstart, jend);
    for (unsigned i = 0; i < p->njob; i++) {
        g_job *j = &p->job[i];
        j->agency = pick_agency(g, r);
        j->position = rng_below(r, gen_positions.n);
        j->contractor =
            rng_chance(r, 300) ? (int32_t)rng_below(r, gen_contractors.n) : -1;
        j->start = jstart[i];
        j->current =
            i + 1 == p->njob && career_end == g->ref && rng_chance(r, 880);
        j->end = j->current ? NO_DATE : jend[i];
        if (!j->current && i + 1 == p->njob && career_end == g->ref)
            j->end = rng_range(r, j->start, g->ref);
    }

    uint32_t ne = rng_below(r, 100);
    p->nemail = ne < 5 ? 0 : ne < 60 ? 1 : ne < 95 ? 2 : 3;
    for (unsigned i = 0; i < p->nemail; i++) {
        g_email *e = &p->email[i];
        e->style = (uint8_t)rng_below(r, 4);
        e->digits = 1 + rng_below(r, 98);
        e->domain = mail_domains[rng_below(r, NELEM(mail_domains))];
        if (i == 1 && p->job[p->njob - 1].current &&
            p->job[p->njob - 1].contractor < 0) {
            e->style = 4; /* work address at the agency */
            e->domain = gen_agencies[p->job[p->njob - 1].agency].abbr;
        }
    }

    draw_investigations(g, r, p, birth_family);
    draw_fingerprints(r, p);
}

/* ---- rendering ----------------------------------------------------------- */

/* A writer over g->out with a sticky status: after the first failure every
 * call is a no-op, and the caller checks w.st once at the end. It keeps its
 * own copy of the write position so the common case is one compare and a
 * memcpy; w_done hands the length back to the sr_buf. */
typedef struct jw {
    sr_buf *b;
    uint8_t *p;
    size_t len, cap;
    sr_status st;
} jw;

/* The block may be larger than the buffer's cap (its first allocation is
 * a fixed size); the writer honours the cap. */
static size_t w_limit(const sr_buf *b)
{
    if (b->p == NULL)
        return 0;
    return b->cap < b->max ? b->cap : b->max;
}

static void w_open(jw *w, sr_buf *b)
{
    w->b = b;
    w->p = b->p;
    w->len = b->len;
    w->cap = w_limit(b);
    w->st = SR_OK;
}

static sr_status w_done(jw *w)
{
    if (w->st == SR_OK)
        w->b->len = w->len;
    return w->st;
}

/* Room for n more bytes; false (and w->st set) if there is none. */
static bool w_room(jw *w, size_t n)
{
    if (n <= w->cap - w->len)
        return true;
    if (w->st != SR_OK)
        return false;
    w->b->len = w->len;
    /* Grow in large steps; fall back to the exact need near the cap. */
    sr_status st = buf_reserve(w->b, n < 8192 ? 8192 : n);
    if (st != SR_OK)
        st = buf_reserve(w->b, n);
    if (st != SR_OK) {
        w->st = st;
        w->cap = w->len; /* every later write takes this path and fails */
        return false;
    }
    w->p = w->b->p;
    w->cap = w_limit(w->b);
    return true;
}

static void w_raw(jw *w, const void *s, size_t n)
{
    if (!w_room(w, n))
        return;
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

#define W_LIT(w, lit) w_raw(w, lit, sizeof(lit) - 1)

static void w_cstr(jw *w, const char *s)
{
    w_raw(w, s, strlen(s));
}

/* The decimal digits of v, at least min_digits of them (zero-padded), at
 * the end of tmp; returns where they start. */
static const char *uint_digits(char tmp[20], uint64_t v, unsigned min_digits,
                               unsigned *n)
{
    if (min_digits > 20)
        min_digits = 20; /* the most a uint64_t has */
    *n = 0;
    do {
        tmp[20 - 1 - (*n)++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 || *n < min_digits);
    return tmp + 20 - *n;
}

static void w_uint(jw *w, uint64_t v, unsigned min_digits)
{
    char tmp[20];
    unsigned n;
    const char *d = uint_digits(tmp, v, min_digits, &n);
    w_raw(w, d, n);
}

static void w_date_bare(jw *w, int32_t day)
{
    int32_t y;
    uint32_t m, d;
    date_civil_from_days(day, &y, &m, &d);
    char s[10] = {(char)('0' + y / 1000 % 10),
                  (char)('0' + y / 100 % 10),
                  (char)('0' + y / 10 % 10),
                  (char)('0' + y % 10),
                  '-',
                  (char)('0' + m / 10),
                  (char)('0' + m % 10),
                  '-',
                  (char)('0' + d / 10),
                  (char)('0' + d % 10)};
    w_raw(w, s, sizeof s);
}

static void w_date(jw *w, int32_t day)
{
    W_LIT(w, "\"");
    w_date_bare(w, day);
    W_LIT(w, "\"");
}

/* A JSON string (RFC 8259 section 7): the quote, the reverse solidus and
 * the C0 controls must be escaped; everything else, UTF-8 included, is
 * copied as it is. */
static void w_str(jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    W_LIT(w, "\"");
    size_t run = 0; /* start of the pending run of plain bytes */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        w_raw(w, s + run, i - run);
        run = i + 1;
        char e[6] = {'\\', 0, 0, 0, 0, 0};
        size_t en = 2;
        switch (c) {
        case '"':
            e[1] = '"';
            break;
        case '\\':
            e[1] = '\\';
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        default:
            e[1] = 'u';
            e[2] = '0';
            e[3] = '0';
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            en = 6;
        }
        w_raw(w, e, en);
    }
    w_raw(w, s + run, n - run);
    W_LIT(w, "\"");
}

sr_status gen_json_string(sr_buf *b, const char *s, size_t n)
{
    jw w;
    w_open(&w, b);
    w_str(&w, s, n);
    return w_done(&w);
}

static void w_cjson(jw *w, const char *s)
{
    w_str(w, s, strlen(s));
}

/* A small fixed text under construction (a family name, a street). */
typedef struct tbuf {
    char s[512];
    size_t n;
} tbuf;

static void t_add(tbuf *t, const char *s, size_t n)
{
    if (n > sizeof t->s - t->n)
        n = sizeof t->s - t->n; /* lists are short: never reached */
    memcpy(t->s + t->n, s, n);
    t->n += n;
}

static void t_cstr(tbuf *t, const char *s)
{
    t_add(t, s, strlen(s));
}

static void t_uint(tbuf *t, uint32_t v, unsigned min_digits)
{
    char tmp[20];
    unsigned n;
    const char *d = uint_digits(tmp, v, min_digits, &n);
    t_add(t, d, n);
}

static void family_text(const g_name *nm, tbuf *t)
{
    t->n = 0;
    t_cstr(t, nm->fam1);
    if (nm->fam2 != NULL) {
        t_add(t, "-", 1);
        t_cstr(t, nm->fam2);
    }
}

static void middle_text(const g_name *nm, tbuf *t)
{
    t->n = 0;
    if (nm->middle_initial) {
        t_add(t, nm->middle, 1);
        t_add(t, ".", 1);
    } else {
        t_cstr(t, nm->middle);
    }
}

static void street_text(const g_addr *a, tbuf *t)
{
    static const char *const unit_words[] = {" Apt ", " Unit ", " #"};
    t->n = 0;
    t_uint(t, a->number, 1);
    t_add(t, " ", 1);
    if (a->foreign) {
        t_cstr(t, gen_streets.v[a->street]);
        t_add(t, " Street", 7);
    } else {
        t_cstr(t, gen_streets.v[a->street]);
        t_add(t, " ", 1);
        t_cstr(t, gen_street_types.v[a->type]);
    }
    if (a->unit != 0) {
        t_cstr(t, unit_words[a->unit_style]);
        t_uint(t, a->unit, 1);
        if (a->unit_style == 0 && a->unit % 3 == 0) {
            char letter = (char)('A' + a->unit % 4);
            t_add(t, &letter, 1);
        }
    }
}

static void phone_text(const g_phone *ph, tbuf *t)
{
    t->n = 0;
    switch (ph->style) {
    case 0:
        t_add(t, "+1 (", 4);
        t_cstr(t, ph->prefix);
        t_add(t, ") 555-01", 8);
        break;
    case 1:
        t_cstr(t, ph->prefix);
        t_add(t, "-555-01", 7);
        break;
    case 2:
        t_add(t, "(", 1);
        t_cstr(t, ph->prefix);
        t_add(t, ") 555-01", 8);
        break;
    default:
        t_cstr(t, ph->prefix);
        break;
    }
    t_uint(t, ph->line, 2);
}

/* U+00C0..U+00FF and U+0100..U+017F folded to one ASCII letter; '*' marks
 * the few that fold to two, '.' the ones dropped. */
static const char fold_latin1[] =
    "aaaaaa*ceeeeiiiidnooooo.ouuuuy**aaaaaa*ceeeeiiiidnooooo.ouuuuy*y";
static const char fold_ext_a[] =
    "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkkllllllllll"
    "nnnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";
_Static_assert(sizeof(fold_latin1) == 65, "one entry per code point");
_Static_assert(sizeof(fold_ext_a) == 129, "one entry per code point");

/* The ASCII form of a name for the local part of an e-mail address:
 * lowercase letters and digits, diacritics folded, everything else dropped. */
static void fold_ascii(const char *s, tbuf *t)
{
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        unsigned c = *u;
        if (c < 0x80) {
            if (c >= 'A' && c <= 'Z')
                c += 'a' - 'A';
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
                char ch = (char)c;
                t_add(t, &ch, 1);
            }
            u++;
            continue;
        }
        if ((c & 0xe0) == 0xc0 && (u[1] & 0xc0) == 0x80) {
            unsigned cp = (c & 0x1fu) << 6 | (u[1] & 0x3fu);
            u += 2;
            char f = '.';
            if (cp >= 0xc0 && cp <= 0xff)
                f = fold_latin1[cp - 0xc0];
            else if (cp >= 0x100 && cp <= 0x17f)
                f = fold_ext_a[cp - 0x100];
            if (f == '*') {
                switch (cp) {
                case 0xc6:
                case 0xe6:
                    t_add(t, "ae", 2);
                    break;
                case 0xde:
                case 0xfe:
                    t_add(t, "th", 2);
                    break;
                default:
                    t_add(t, "ss", 2);
                    break;
                }
            } else if (f != '.') {
                t_add(t, &f, 1);
            }
            continue;
        }
        u++; /* other scripts and continuation bytes: dropped */
        while ((*u & 0xc0) == 0x80)
            u++;
    }
}

static void email_text(const g_person *p, const g_email *e, tbuf *t)
{
    tbuf fam;
    int32_t birth_year;
    uint32_t bm, bd;
    date_civil_from_days(p->birth, &birth_year, &bm, &bd);
    t->n = 0;
    fam.n = 0;
    fold_ascii(p->name.fam1, &fam);
    if (p->name.fam2 != NULL)
        fold_ascii(p->name.fam2, &fam);
    switch (e->style) {
    case 0:
    case 4:
        fold_ascii(p->name.given, t);
        t_add(t, ".", 1);
        t_add(t, fam.s, fam.n);
        break;
    case 1: {
        size_t mark = t->n;
        fold_ascii(p->name.given, t);
        if (t->n > mark + 1)
            t->n = mark + 1; /* the initial */
        t_add(t, fam.s, fam.n);
        break;
    }
    case 2:
        fold_ascii(p->name.given, t);
        t_add(t, ".", 1);
        t_add(t, fam.s, fam.n);
        t_uint(t, e->digits, 1);
        break;
    default:
        fold_ascii(p->name.given, t);
        t_add(t, "_", 1);
        t_add(t, fam.s, fam.n);
        t_uint(t, (uint32_t)birth_year, 1);
        break;
    }
    if (t->n == 0)
        t_add(t, "user", 4);
    t_add(t, "@", 1);
    t_cstr(t, e->domain);
    if (e->style == 4)
        t_add(t, ".gov.example", 12);
}

static void w_name(jw *w, const g_name *nm)
{
    tbuf t;
    W_LIT(w, "{\"given\":");
    w_cjson(w, nm->given);
    if (nm->middle != NULL) {
        W_LIT(w, ",\"middle\":");
        middle_text(nm, &t);
        w_str(w, t.s, t.n);
    }
    W_LIT(w, ",\"family\":");
    family_text(nm, &t);
    w_str(w, t.s, t.n);
    if (nm->suffix != NULL) {
        W_LIT(w, ",\"suffix\":");
        w_cjson(w, nm->suffix);
    }
    W_LIT(w, "}");
}

static void w_ssn(jw *w, const g_person *p)
{
    char s[13] = {'"',
                  (char)('0' + p->ssn_area / 100),
                  (char)('0' + p->ssn_area / 10 % 10),
                  (char)('0' + p->ssn_area % 10),
                  '-',
                  (char)('0' + p->ssn_group / 10),
                  (char)('0' + p->ssn_group % 10),
                  '-',
                  (char)('0' + p->ssn_serial / 1000),
                  (char)('0' + p->ssn_serial / 100 % 10),
                  (char)('0' + p->ssn_serial / 10 % 10),
                  (char)('0' + p->ssn_serial % 10),
                  '"'};
    w_raw(w, s, sizeof s);
}

static void w_amount(jw *w, uint32_t cents, bool with_cents)
{
    w_uint(w, cents / 100, 1);
    if (with_cents) {
        W_LIT(w, ".");
        w_uint(w, cents % 100, 2);
    }
}

static void w_sections(jw *w, const g_inv *v)
{
    tbuf t;
    bool first = true;
#define SEP()                                                                  \
    do {                                                                       \
        if (!first)                                                            \
            W_LIT(w, ",");                                                     \
        first = false;                                                         \
    } while (0)
    W_LIT(w, ",\"sections\":{");
    if (v->nrel > 0) {
        SEP();
        W_LIT(w, "\"relatives\":[");
        for (unsigned i = 0; i < v->nrel; i++) {
            const g_rel *rl = &v->rel[i];
            if (i)
                W_LIT(w, ",");
            W_LIT(w, "{\"relation\":");
            w_cjson(w, rl->relation);
            W_LIT(w, ",\"name\":");
            w_name(w, &rl->name);
            if (rl->birth != NO_DATE) {
                W_LIT(w, ",\"birth_date\":");
                w_date(w, rl->birth);
            }
            W_LIT(w, ",\"citizenship\":");
            w_cjson(w, rl->citizenship);
            W_LIT(w, "}");
        }
        W_LIT(w, "]");
    }
    if (v->nfc > 0) {
        SEP();
        W_LIT(w, "\"foreign_contacts\":[");
        for (unsigned i = 0; i < v->nfc; i++) {
            const gen_contact *c = &gen_contacts[v->fc[i].who];
            if (i)
                W_LIT(w, ",");
            W_LIT(w, "{\"name\":");
            w_cjson(w, c->name);
            W_LIT(w, ",\"country\":");
            w_cjson(w, c->country);
            W_LIT(w, ",\"nature\":");
            w_cjson(w, fc_nature[v->fc[i].nature]);
            W_LIT(w, ",\"frequency\":");
            w_cjson(w, fc_freq[v->fc[i].freq]);
            W_LIT(w, "}");
        }
        W_LIT(w, "]");
    }
    for (int k = 0; k < EV_KINDS; k++) {
        if (v->nev[k] == 0)
            continue;
        SEP();
        W_LIT(w, "\"");
        w_cstr(w, ev_names[k]);
        W_LIT(w, "\":[");
        for (unsigned i = 0; i < v->nev[k]; i++) {
            const g_event *e = &v->ev[k][i];
            const ev_text *x = &ev_tables[k].v[e->what];
            if (i)
                W_LIT(w, ",");
            W_LIT(w, "{\"date\":");
            w_date(w, e->date);
            W_LIT(w, ",\"kind\":");
            w_cjson(w, x->kind);
            if (e->details) {
                W_LIT(w, ",\"details\":");
                w_cjson(w, x->details);
            }
            if (e->amount_kind != 0) {
                W_LIT(w, ",\"amount\":");
                w_amount(w, e->cents, e->amount_kind == 2);
            }
            W_LIT(w, "}");
        }
        W_LIT(w, "]");
    }
    if (v->nref > 0) {
        SEP();
        W_LIT(w, "\"references\":[");
        for (unsigned i = 0; i < v->nref; i++) {
            const g_ref *f = &v->ref[i];
            if (i)
                W_LIT(w, ",");
            t.n = 0;
            t_cstr(&t, f->given);
            t_add(&t, " ", 1);
            t_cstr(&t, f->family);
            W_LIT(w, "{\"name\":");
            w_str(w, t.s, t.n);
            phone_text(&f->phone, &t);
            W_LIT(w, ",\"phone\":");
            w_str(w, t.s, t.n);
            W_LIT(w, ",\"relation\":");
            w_cjson(w, ref_relation[f->relation]);
            W_LIT(w, "}");
        }
        W_LIT(w, "]");
    }
    if (v->nnote > 0) {
        SEP();
        t.n = 0;
        for (unsigned i = 0; i < v->nnote; i++) {
            if (i)
                t_add(&t, " ", 1);
            t_cstr(&t, notes[v->note[i]]);
            if (v->note[i] == 0) {
                int32_t y; /* the dated sentence */
                uint32_t m, d;
                date_civil_from_days(v->interview, &y, &m, &d);
                t_uint(&t, (uint32_t)y, 4);
                t_add(&t, "-", 1);
                t_uint(&t, m, 2);
                t_add(&t, "-", 1);
                t_uint(&t, d, 2);
                t_add(&t, ".", 1);
            }
        }
        W_LIT(w, "\"notes\":");
        w_str(w, t.s, t.n);
    }
#undef SEP
    W_LIT(w, "}");
}

/* A template that looks like one: the "FMR" magic, version " 20" and the
 * record length of ISO/IEC 19794-2:2005, then minutiae-sized noise. */
static void w_template(jw *w, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    /* 29-77 minutiae of 6 bytes after a 28-byte header: 202-490 bytes,
     * most near 35 minutiae as real captures are. */
    double u = rng_unit(&r);
    uint32_t minutiae = 29 + (uint32_t)((double)rng_below(&r, 49) * u * u);
    size_t n = 28 + 6 * (size_t)minutiae;
    uint8_t raw[512];
    memcpy(raw, "FMR\0 20\0", 8);
    raw[8] = 0;
    raw[9] = 0;
    raw[10] = (uint8_t)(n >> 8);
    raw[11] = (uint8_t)n;
    for (size_t i = 12; i < n; i += 8) {
        uint64_t x = rng_next(&r);
        for (size_t k = 0; k < 8 && i + k < n; k++)
            raw[i + k] = (uint8_t)(x >> (8 * k));
    }
    size_t enc = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
    W_LIT(w, "\"");
    if (w_room(w, enc)) {
        sodium_bin2base64((char *)w->p + w->len, enc, raw, n,
                          sodium_base64_VARIANT_ORIGINAL);
        w->len += enc - 1; /* without the NUL */
    }
    W_LIT(w, "\"");
}

/* The members ,"city",["state",]["postal_code",]"country" of a place:
 * a US city, or a place abroad (foreign). */
static void w_place(jw *w, bool foreign, uint32_t place, bool postal)
{
    const char *city, *region, *zip, *country;
    if (foreign) {
        const gen_place *pl = &gen_places[place];
        city = pl->city;
        region = pl->region;
        zip = pl->postal;
        country = pl->country;
    } else {
        const gen_city *c = &gen_cities[place];
        city = c->city;
        region = c->state;
        zip = c->zip;
        country = "US";
    }
    W_LIT(w, ",\"city\":");
    w_cjson(w, city);
    if (region != NULL) {
        W_LIT(w, ",\"state\":");
        w_cjson(w, region);
    }
    if (postal) {
        W_LIT(w, ",\"postal_code\":");
        w_cjson(w, zip);
    }
    W_LIT(w, ",\"country\":");
    w_cjson(w, country);
}

static void render_json(const g_person *p, jw *w)
{
    tbuf t;
    W_LIT(w, "{\"ssn\":");
    w_ssn(w, p);
    W_LIT(w, ",\"name\":");
    w_name(w, &p->name);
    if (p->nformer > 0) {
        W_LIT(w, ",\"former_names\":[");
        for (unsigned i = 0; i < p->nformer; i++) {
            if (i)
                W_LIT(w, ",");
            w_name(w, &p->former[i]);
        }
        W_LIT(w, "]");
    }
    W_LIT(w, ",\"birth\":{\"date\":");
    w_date(w, p->birth);
    w_place(w, p->foreign_born, p->birth_place, false);
    W_LIT(w, "},\"sex\":");
    w_cjson(w, p->sex == 0 ? "F" : p->sex == 1 ? "M" : "X");
    W_LIT(w, ",\"citizenship\":[");
    for (unsigned i = 0; i < p->ncit; i++) {
        if (i)
            W_LIT(w, ",");
        w_cjson(w, p->citizenship[i]);
    }
    W_LIT(w, "],\"addresses\":[");
    for (unsigned i = 0; i < p->naddr; i++) {
        const g_addr *a = &p->addr[i];
        if (i)
            W_LIT(w, ",");
        street_text(a, &t);
        W_LIT(w, "{\"street\":");
        w_str(w, t.s, t.n);
        w_place(w, a->foreign, a->place, true);
        W_LIT(w, ",\"from\":");
        w_date(w, a->from);
        if (a->to != NO_DATE) {
            W_LIT(w, ",\"to\":");
            w_date(w, a->to);
        }
        W_LIT(w, "}");
    }
    W_LIT(w, "]");
    if (p->nphone > 0) {
        W_LIT(w, ",\"phones\":[");
        for (unsigned i = 0; i < p->nphone; i++) {
            if (i)
                W_LIT(w, ",");
            phone_text(&p->phone[i], &t);
            w_str(w, t.s, t.n);
        }
        W_LIT(w, "]");
    }
    if (p->nemail > 0) {
        W_LIT(w, ",\"emails\":[");
        for (unsigned i = 0; i < p->nemail; i++) {
            if (i)
                W_LIT(w, ",");
            email_text(p, &p->email[i], &t);
            w_str(w, t.s, t.n);
        }
        W_LIT(w, "]");
    }
    W_LIT(w, ",\"employment\":[");
    for (unsigned i = 0; i < p->njob; i++) {
        const g_job *j = &p->job[i];
        if (i)
            W_LIT(w, ",");
        W_LIT(w, "{\"agency\":");
        w_cjson(w, gen_agencies[j->agency].name);
        W_LIT(w, ",\"position\":");
        w_cjson(w, gen_positions.v[j->position]);
        if (j->contractor >= 0) {
            W_LIT(w, ",\"kind\":\"contractor\",\"employer\":");
            w_cjson(w, gen_contractors.v[j->contractor]);
        } else {
            W_LIT(w, ",\"kind\":\"employee\"");
        }
        if (j->current)
            W_LIT(w, ",\"status\":\"current\",\"start\":");
        else
            W_LIT(w, ",\"status\":\"former\",\"start\":");
        w_date(w, j->start);
        if (!j->current) {
            W_LIT(w, ",\"end\":");
            w_date(w, j->end);
        }
        W_LIT(w, "}");
    }
    W_LIT(w, "]");
    if (p->ninv > 0) {
        W_LIT(w, ",\"investigations\":[");
        for (unsigned i = 0; i < p->ninv; i++) {
            const g_inv *v = &p->inv[i];
            int32_t y;
            uint32_t m, d;
            date_civil_from_days(v->opened, &y, &m, &d);
            if (i)
                W_LIT(w, ",");
            /* Case numbers follow the investigating agency of the day:
             * DSS, then OPM (from 2005), then DCSA (from October 2019). */
            W_LIT(w, "{\"case_number\":\"");
            if (y < 2005)
                W_LIT(w, "DSS-");
            else if (y < 2019 || (y == 2019 && m < 10))
                W_LIT(w, "OPM-");
            else
                W_LIT(w, "DCSA-");
            w_uint(w, (uint64_t)y, 4);
            W_LIT(w, "-");
            w_uint(w, v->case_serial, 8);
            W_LIT(w, "\",\"type\":\"");
            w_cstr(w, inv_types[v->type]);
            W_LIT(w, "\",\"status\":");
            if (v->closed)
                W_LIT(w, "\"closed\"");
            else
                W_LIT(w, "\"open\"");
            W_LIT(w, ",\"opened\":");
            w_date(w, v->opened);
            if (v->closed) {
                W_LIT(w, ",\"closed\":");
                w_date(w, v->closed_on);
            }
            if (v->adjudication >= 0) {
                W_LIT(w, ",\"adjudication\":\"");
                w_cstr(w, adjudications[v->adjudication]);
                W_LIT(w, "\"");
            }
            if (v->sections)
                w_sections(w, v);
            W_LIT(w, "}");
        }
        W_LIT(w, "]");
    }
    if (p->nfp > 0) {
        W_LIT(w, ",\"fingerprints\":[");
        for (unsigned i = 0; i < p->nfp; i++) {
            if (i)
                W_LIT(w, ",");
            W_LIT(w, "{\"finger\":");
            w_uint(w, p->finger[i], 1);
            if (p->ansi)
                W_LIT(w, ",\"format\":\"ansi-378-2004\",\"template\":");
            else
                W_LIT(w, ",\"format\":\"iso-19794-2-2005\",\"template\":");
            w_template(w, p->fp_seed + p->finger[i]);
            W_LIT(w, "}");
        }
        W_LIT(w, "]");
    }
    W_LIT(w, "}");
}

/* ---- CSV ----------------------------------------------------------------- */

/* The columns of the CSV subset (docs/csv.md) this generator can fill. The
 * order of a row is taken from record_csv_header() when the generator is
 * made, so the rows follow the header whatever order it settles on. */
enum {
    C_SSN,
    C_GIVEN,
    C_MIDDLE,
    C_FAMILY,
    C_SUFFIX,
    C_BIRTH_DATE,
    C_BIRTH_CITY,
    C_BIRTH_STATE,
    C_BIRTH_COUNTRY,
    C_SEX,
    C_CITIZENSHIP,
    C_STREET,
    C_CITY,
    C_STATE,
    C_POSTAL_CODE,
    C_COUNTRY,
    C_ADDRESS_FROM,
    C_AGENCY,
    C_POSITION,
    C_KIND,
    C_EMPLOYER,
    C_EMPLOYMENT_START,
    C_COUNT
};
static const char *const csv_names[C_COUNT] = {
    "ssn",           "given",
    "middle",        "family",
    "suffix",        "birth_date",
    "birth_city",    "birth_state",
    "birth_country", "sex",
    "citizenship",   "street",
    "city",          "state",
    "postal_code",   "country",
    "address_from",  "agency",
    "position",      "kind",
    "employer",      "employment_start"};

static void csv_layout(sr_gen *g)
{
    const char *h = record_csv_header();
    g->ncols = 0;
    while (g->ncols < RECORD_CSV_MAX_COLS) {
        size_t n = strcspn(h, ",");
        int8_t id = -1;
        for (int8_t c = 0; c < C_COUNT; c++)
            if (strlen(csv_names[c]) == n && memcmp(csv_names[c], h, n) == 0)
                id = c;
        g->col[g->ncols++] = id;
        if (h[n] != ',')
            break;
        h += n + 1;
    }
}

static void t_date(tbuf *t, int32_t day)
{
    int32_t y;
    uint32_t m, d;
    date_civil_from_days(day, &y, &m, &d);
    t_uint(t, (uint32_t)y, 4);
    t_add(t, "-", 1);
    t_uint(t, m, 2);
    t_add(t, "-", 1);
    t_uint(t, d, 2);
}

/* The text of one cell; t->n == 0 for an absent member. */
static void csv_cell(const g_person *p, int col, tbuf *t)
{
    const g_addr *a = &p->addr[p->naddr - 1]; /* the current address */
    const g_job *j = &p->job[p->njob - 1];
    bool job = j->current; /* CSV cannot say "former" */
    t->n = 0;
    switch (col) {
    case C_SSN: {
        char s[11] = {(char)('0' + p->ssn_area / 100),
                      (char)('0' + p->ssn_area / 10 % 10),
                      (char)('0' + p->ssn_area % 10),
                      '-',
                      (char)('0' + p->ssn_group / 10),
                      (char)('0' + p->ssn_group % 10),
                      '-',
                      (char)('0' + p->ssn_serial / 1000),
                      (char)('0' + p->ssn_serial / 100 % 10),
                      (char)('0' + p->ssn_serial / 10 % 10),
                      (char)('0' + p->ssn_serial % 10)};
        t_add(t, s, sizeof s);
        break;
    }
    case C_GIVEN:
        t_cstr(t, p->name.given);
        break;
    case C_MIDDLE:
        if (p->name.middle != NULL)
            middle_text(&p->name, t);
        break;
    case C_FAMILY:
        family_text(&p->name, t);
        break;
    case C_SUFFIX:
        if (p->name.suffix != NULL)
            t_cstr(t, p->name.suffix);
        break;
    case C_BIRTH_DATE:
        t_date(t, p->birth);
        break;
    case C_BIRTH_CITY:
        t_cstr(t, p->foreign_born ? gen_places[p->birth_place].city
                                  : gen_cities[p->birth_place].city);
        break;
    case C_BIRTH_STATE:
        if (!p->foreign_born)
            t_cstr(t, gen_cities[p->birth_place].state);
        else if (gen_places[p->birth_place].region != NULL)
            t_cstr(t, gen_places[p->birth_place].region);
        break;
    case C_BIRTH_COUNTRY:
        t_cstr(t, p->foreign_born ? gen_places[p->birth_place].country : "US");
        break;
    case C_SEX:
        t_cstr(t, p->sex == 0 ? "F" : p->sex == 1 ? "M" : "X");
        break;
    case C_CITIZENSHIP:
        for (unsigned i = 0; i < p->ncit; i++) {
            if (i)
                t_add(t, ";", 1);
            t_cstr(t, p->citizenship[i]);
        }
        break;
    case C_STREET:
        street_text(a, t);
        break;
    case C_CITY:
        t_cstr(t, gen_cities[a->place].city);
        break;
    case C_STATE:
        t_cstr(t, gen_cities[a->place].state);
        break;
    case C_POSTAL_CODE:
        t_cstr(t, gen_cities[a->place].zip);
        break;
    case C_COUNTRY:
        t_cstr(t, "US");
        break;
    case C_ADDRESS_FROM:
        t_date(t, a->from);
        break;
    case C_AGENCY:
        if (job)
            t_cstr(t, gen_agencies[j->agency].name);
        break;
    case C_POSITION:
        if (job)
            t_cstr(t, gen_positions.v[j->position]);
        break;
    case C_KIND:
        if (job)
            t_cstr(t, j->contractor >= 0 ? "contractor" : "employee");
        break;
    case C_EMPLOYER:
        if (job && j->contractor >= 0)
            t_cstr(t, gen_contractors.v[j->contractor]);
        break;
    case C_EMPLOYMENT_START:
        if (job)
            t_date(t, j->start);
        break;
    default:
        break; /* a column this generator does not know: empty */
    }
}

/* RFC 4180: a cell with a comma or a quote is quoted, quotes doubled. No
 * cell can hold a line break: the lists have none. */
static void w_csv_cell(jw *w, const tbuf *t)
{
    if (memchr(t->s, ',', t->n) == NULL && memchr(t->s, '"', t->n) == NULL) {
        w_raw(w, t->s, t->n);
        return;
    }
    W_LIT(w, "\"");
    size_t run = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->s[i] != '"')
            continue;
        w_raw(w, t->s + run, i + 1 - run); /* up to and with the quote */
        run = i;                           /* ... which is written twice */
    }
    w_raw(w, t->s + run, t->n - run);
    W_LIT(w, "\"");
}

static void render_csv(const sr_gen *g, const g_person *p, jw *w)
{
    tbuf t;
    for (unsigned i = 0; i < g->ncols; i++) {
        if (i)
            W_LIT(w, ",");
        csv_cell(p, g->col[i], &t);
        w_csv_cell(w, &t);
    }
}

/* ---- public API ---------------------------------------------------------- */

sr_status sr_gen_new(sr_gen **out, uint64_t seed)
{
    if (out == NULL)
        return SR_ERR_INVALID;
    *out = NULL;
    if (sodium_init() < 0) /* base64 comes from libsodium */
        return SR_ERR_INTERNAL;
    sr_gen *g = calloc(1, sizeof *g);
    if (g == NULL)
        return SR_ERR_NOMEM;
    uint64_t x = seed;
    g->person_key = splitmix64(&x);
    for (int i = 0; i < SSN_ROUNDS; i++)
        g->ssn_key[i] = splitmix64(&x);
    g->ref = date_days_from_civil(2026, 1, 1);
    for (uint32_t i = 0; i < gen_cities_n; i++)
        g->city_weight += gen_cities[i].weight;
    for (uint32_t i = 0; i < gen_agencies_n; i++)
        g->agency_weight += gen_agencies[i].weight;
    csv_layout(g);
    buf_init(&g->out, GEN_BUF_MAX);
    *out = g;
    return SR_OK;
}

void sr_gen_free(sr_gen *g)
{
    if (g == NULL)
        return;
    buf_free(&g->out);
    sodium_memzero(g, sizeof *g);
    free(g);
}

size_t gen_buffer_capacity(const sr_gen *g)
{
    return g->out.cap;
}

/* Finish the line in g->out: NUL-terminate (not counted) and hand it out. */
static sr_status finish(jw *w, const char **line, size_t *len)
{
    w_raw(w, "", 1);
    sr_status st = w_done(w);
    if (st != SR_OK) {
        buf_reset(w->b);
        return st;
    }
    *line = (const char *)w->b->p;
    *len = w->b->len - 1;
    return SR_OK;
}

/* Start a line: the previous one is dropped without wiping, since every
 * byte of it is synthetic (buf_free still wipes the block at the end). */
static void start(sr_gen *g, uint64_t index, jw *w)
{
    g->out.len = 0;
    draw_person(g, index, &g->p);
    w_open(w, &g->out);
}

sr_status sr_gen_person_json(sr_gen *g, uint64_t index, const char **line,
                             size_t *len)
{
    if (g == NULL || line == NULL || len == NULL)
        return SR_ERR_INVALID;
    *line = NULL;
    *len = 0;
    jw w;
    start(g, index, &w);
    render_json(&g->p, &w);
    return finish(&w, line, len);
}

const char *sr_gen_csv_header(void)
{
    return record_csv_header();
}

sr_status sr_gen_person_csv(sr_gen *g, uint64_t index, const char **line,
                            size_t *len)
{
    if (g == NULL || line == NULL || len == NULL)
        return SR_ERR_INVALID;
    *line = NULL;
    *len = 0;
    jw w;
    start(g, index, &w);
    render_csv(g, &g->p, &w);
    return finish(&w, line, len);
}
