/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline/body.h - what a hotline message carries (issue 9,
 * docs/hotline.md): per kind, one JSON object with exactly its members;
 * indicators as a STIX 2.1 bundle. Checked before sealing and after
 * opening. A refusal names the member, never its value.
 *
 *   request   requesting_party, partner_case_id, summary, indicators
 *             (bundle), legal_basis, urgency (routine | priority |
 *             immediate), requested_action, response_deadline (RFC 3339
 *             UTC); optional incident_ref (a breach report's reference,
 *             never an identifier), attachments and personal_data
 *             ({"approval", "fields", "people"}: named fields of people
 *             from the sender's vault, read under a second person's
 *             approval; each person holds those fields and nothing else;
 *             never forwarded to a third node)
 *
 * An attachment (a malware sample, a log excerpt) is {"name",
 * "media_type", "size", "sha256", "data": base64}: at most
 * HL_ATTACHMENT_MAX bytes, HL_ATTACHMENTS_MAX of them, and its data must
 * hash to its sha256. Like the rest of the body it is encrypted end to
 * end; a node keeps it sealed to itself.
 *   ack       optional note
 *   response  answer; optional indicators (bundle), attachments
 *   close     reason
 *   receipt   message (SHA-256 hex of the envelope received), received
 *             (RFC 3339 UTC)
 */
#ifndef STRONGROOM_HOTLINE_BODY_H
#define STRONGROOM_HOTLINE_BODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hotline/message.h"
#include "strongroom/common.h"

#define HL_ATTACHMENT_MAX (4u << 20)
#define HL_ATTACHMENTS_MAX 16u
/* The most people one referral's personal_data may carry (the vault's
 * SR_SHARE_PEOPLE_MAX). */
#define HL_PEOPLE_MAX 100u

/* Decode and check one attachment object: *data (malloc'd) gets its
 * bytes. SR_ERR_INVALID for a malformed one, SR_ERR_CORRUPT when the data
 * does not hash to its sha256. */
SR_WARN_UNUSED sr_status hl_attachment_decode(const json_t *a, uint8_t **data,
                                              size_t *len,
                                              char err[HL_ERR_MAX]);

/* The most STIX objects one bundle may carry. */
#define HL_STIX_OBJECTS_MAX 200000u

/* Check a STIX 2.1 bundle: type "bundle", an id, and each object's type,
 * id, spec_version, timestamps and the members its type needs
 * (indicator: pattern, pattern_type, valid_from; relationship:
 * relationship_type, source_ref, target_ref). *objects gets their number. */
SR_WARN_UNUSED sr_status hl_stix_check(const json_t *bundle, size_t *objects,
                                       char err[HL_ERR_MAX]);

/* Check a body of the given kind (JSON text of len bytes) sent under TLP
 * label tlp, in one parse: also, a body with personal_data must be marked
 * TLP:AMBER+STRICT or TLP:RED (it stays within the recipient's
 * organisation). */
SR_WARN_UNUSED sr_status hl_body_check_marked(hl_kind kind, hl_tlp tlp,
                                              const uint8_t *body, size_t len,
                                              char err[HL_ERR_MAX]);
/* Check a body of the given kind (JSON text of len bytes), whatever its
 * marking. */
SR_WARN_UNUSED sr_status hl_body_check(hl_kind kind, const uint8_t *body,
                                       size_t len, char err[HL_ERR_MAX]);

/* Does a (checked) body carry personal_data? Only a request may. */
bool hl_body_personal(hl_kind kind, const uint8_t *body, size_t len);

/* RFC 3339 UTC as STIX writes it: YYYY-MM-DDTHH:MM:SS[.s+]Z. */
bool hl_timestamp_ok(const char *s, size_t len);
/* Such a timestamp as Unix seconds (the fraction dropped); false if it
 * is not one. */
bool hl_timestamp_seconds(const char *s, size_t len, int64_t *out);
/* A request body's response_deadline in Unix seconds; 0 if the body has
 * none (it was checked before). */
int64_t hl_request_deadline(const uint8_t *body, size_t len);

#endif
