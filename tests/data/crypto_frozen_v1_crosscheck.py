# SPDX-License-Identifier: Apache-2.0
# Usage: python3 crypto_frozen_v1_crosscheck.py crypto_frozen_v1.txt
# Independent re-derivation of the v1 formats from docs/crypto.md.
import ctypes, hashlib, struct, sys
v = {}
for line in open(sys.argv[1]):
    if '=' in line and not line.startswith('#'):
        k, x = line.split('=', 1); v[k.strip()] = bytes.fromhex(x.strip())
so = ctypes.CDLL('libsodium.so.23'); so.sodium_init()
def kdf(root, sid, ctx):
    return hashlib.blake2b(b'', digest_size=32, key=root, salt=struct.pack('<Q', sid) + b'\0'*8, person=ctx + b'\0'*8).digest()
def aead_open(key, nonce, ct, ad):
    out = ctypes.create_string_buffer(len(ct) - 16); ml = ctypes.c_ulonglong()
    r = so.crypto_aead_xchacha20poly1305_ietf_decrypt(out, ctypes.byref(ml), None, ct, ctypes.c_ulonglong(len(ct)), ad, ctypes.c_ulonglong(len(ad)), nonce, key)
    assert r == 0, 'tag'
    return out.raw[:ml.value]
root, vid, pid = v['root'], v['vault_id'], v['person_id']
kek2 = kdf(root, 2, b'SRkek___')
w = v['wrapped_kek2']
dk = aead_open(kek2, w[:24], w[24:], b'SRWK' + vid + pid + struct.pack('>I', 2))
assert dk == v['data_key']
e = v['envelope_name_v7']
assert e[0] == 1
ad = b'SRFE' + bytes([1]) + vid + pid + bytes([1]) + bytes([3]) + struct.pack('>II', 7, 2)
assert aead_open(dk, e[1:25], e[25:], ad) == b'hello world'
ik = kdf(root, 1, b'SRbidx__')
h = hashlib.blake2b(bytes([1]) + b'123456789', digest_size=32, key=ik).digest()
assert struct.unpack('>Q', h[:8])[0] >> (64 - 22) == struct.unpack('>I', v['index_ssn_123456789_bits22'])[0]
kf = v['keyfile']
assert kf[:8] == b'SRVAULT1' and len(kf) == 136
lay, = struct.unpack('>I', kf[8:12]); assert lay == 1 and kf[12:28] == vid
alg, ops, mem = struct.unpack('>IQQ', kf[28:48]); salt, nonce, sealed = kf[48:64], kf[64:88], kf[88:]
sk = ctypes.create_string_buffer(32); pw = b'correct horse battery staple'
assert so.crypto_pwhash(sk, ctypes.c_ulonglong(32), pw, ctypes.c_ulonglong(len(pw)), salt, ctypes.c_ulonglong(ops), ctypes.c_size_t(mem), 2) == 0
assert aead_open(sk.raw, nonce, sealed, kf[:88]) == root
print('crosscheck ok: kdf contexts, wrap AD, envelope AD, blind index, key file')
