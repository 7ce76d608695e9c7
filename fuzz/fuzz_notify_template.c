/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_notify_template.c - libFuzzer harness for the letter template of
 * breach notify (src/notify/letter.c), a file an officer edits. A
 * template is refused with a message or parsed; a parsed one renders
 * with every field filled by a value full of markup, and the letter
 * holds that value only escaped: never a raw '<' that the template did
 * not have.
 * Seeds: fuzz/corpus/notify_template/.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "notify/notify_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count(const uint8_t *p, size_t n, uint8_t c)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == c;
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    notify_template t;
    char msg[NOTIFY_MSG_MAX];
    const char *v[NF_COUNT];
    sr_buf out;

    fuzz_init_once();
    msg[0] = '\0';
    if (notify_template_parse((const char *)data, size, &t, msg) != SR_OK) {
        if (msg[0] == '\0')
            abort();
        return 0;
    }
    for (size_t i = 0; i < NF_COUNT; i++)
        v[i] = "<script>'&\"\n";
    buf_init(&out, 64u << 20);
    if (notify_template_render(&t, v, &out) != SR_OK)
        abort();
    /* The template's own '<' and one "<br>" per value put in (for its
     * newline) are all that may appear. */
    size_t fields = 0;
    for (size_t i = 0; i < t.nseg; i++)
        fields += t.seg[i].field >= 0;
    if (count(out.p, out.len, '<') != count(data, size, '<') + fields)
        abort();
    buf_free(&out);
    notify_template_free(&t);
    return 0;
}
