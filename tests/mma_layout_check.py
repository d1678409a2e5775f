#!/usr/bin/env python3
"""mma_layout_check.py (issue 18): the score pass of kernels/attn_decode.cu feeds mma.m16n8k16 with
16-byte loads and assigns the fragment's k positions to the head dims each lane loaded. This
emulates the instruction from the PTX ISA's fragment formulas ("Matrix Fragments for mma.m16n8k16
with floating point type": A row = groupID (+8 for a2, a3, a6, a7), col = 2 threadID_in_group +
(i & 1) (+8 for i >= 4); B row = 2 threadID_in_group + (i & 1) (+8 for i >= 2), col = groupID;
C row = groupID (+8 for i >= 2), col = 2 threadID_in_group + (i & 1)), feeds it the registers
exactly as the kernel does (A = {k0.x, k1.x, k0.y, k1.y}, then {k0.z, k1.z, k0.w, k1.w}; B =
{q.x, q.y}, then {q.z, q.w}) and checks every score a lane stores against the direct dot
product. It checks the assignment, not the CUDA code (no GPU here). Exit 0 or 1."""
import random
import sys
random.seed(18)
worst = 0.0
for d, G in ((128, 6), (128, 1), (80, 3), (64, 4), (256, 8)):
  NSL=(d+31)//32
  keys=[[random.uniform(-1,1) for _ in range(d)] for _ in range(16)]
  q=[[random.uniform(-1,1) for _ in range(d)] for _ in range(8)]
  def lane_words_k(lane, key, s):  # 4 words (pairs) of key row at dims 32s+8tq..
      tq=lane&3; base=32*s+8*tq
      return [(keys[key][base+2*w] if base<d else 0, keys[key][base+2*w+1] if base<d else 0) for w in range(4)]
  def lane_words_q(lane, s):
      g=lane>>2; tq=lane&3; base=32*s+8*tq
      return [((q[g][base+2*w] if g<G and base<d else 0),(q[g][base+2*w+1] if g<G and base<d else 0)) for w in range(4)]
  C=[[0.0]*8 for _ in range(16)]
  for s in range(NSL):
      for half in range(2):
          A=[[None]*16 for _ in range(16)]; B=[[None]*8 for _ in range(16)]
          for lane in range(32):
              g=lane>>2; tq=lane&3
              k0=lane_words_k(lane,g,s); k1=lane_words_k(lane,g+8,s); qw=lane_words_q(lane,s)
              regs=[k0[2*half], k1[2*half], k0[2*half+1], k1[2*half+1]]  # a0a1,a2a3,a4a5,a6a7
              for i in range(8):
                  row = g if (i<2 or 4<=i<6) else g+8
                  col = tq*2+(i&1) + (8 if i>=4 else 0)
                  A[row][col]=regs[i//2][i&1]
              bregs=[qw[2*half], qw[2*half+1]]
              for i in range(4):
                  row = tq*2+(i&1) + (8 if i>=2 else 0); col=g
                  B[row][col]=bregs[i//2][i&1]
          for m in range(16):
              for n in range(8):
                  C[m][n]+=sum(A[m][k]*B[k][n] for k in range(16))
  # C fragment: lane holds c0,c1 (row g, cols 2tq,2tq+1), c2,c3 (row g+8)
  err=0
  for lane in range(32):
      g=lane>>2; tq=lane&3
      for i in range(4):
          row = g if i<2 else g+8; col=2*tq+(i&1)
          if col<G:
              ref=sum(keys[row][e]*q[col][e] for e in range(d))
              err=max(err,abs(C[row][col]-ref))
  worst = max(worst, err)

print("mma layout: max abs error %.3g over 5 shapes" % worst)
sys.exit(0 if worst < 1e-9 else 1)
