//! The encoder's arithmetic: the dense layers' matrix product `y = x · Wᵀ + b` against weights
//! packed once at load time, and the small vector kernels around it (GELU, attention, layer
//! normalisation).
//!
//! Every kernel has three builds, chosen at run time ([`Isa`]): AVX-512 (intrinsics for the
//! matrix product: f32 `vfmadd`, or bfloat16 `vdpbf16ps` with AVX512_BF16), and portable
//! loops that the compiler vectorises, compiled once for AVX2 + FMA and once for the baseline
//! target. The matrix product keeps a tile of 8 rows × 32 outputs in registers and reads each
//! packed weight panel (32 outputs × all inputs, contiguous) once per 8 rows; a large product
//! is split by output panels over two threads, attention by heads. Attention's own products
//! (`Q·Kᵀ`, `P·V`) go through the same tiles, each head's keys and values packed on the fly.
//!
//! The AVX builds need `unsafe` (target features and intrinsics): it stays in this module.
#![allow(unsafe_code)]

use std::ops::Range;

/// Outputs per packed panel (two 16-lane registers).
pub(super) const NR: usize = 32;
/// Rows of `x` per register tile.
const MR: usize = 8;
/// Products smaller than this (multiply-adds) are not worth a second thread.
const SPLIT_AT: usize = 1 << 19;

/// Which build of the kernels runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Isa {
    /// The portable loops.
    Portable,
    /// The portable loops compiled for AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX-512F intrinsics and loops compiled for AVX-512.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

/// How the dense layers' weights are stored and multiplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Precision {
    /// 32-bit floats throughout.
    F32,
    /// Weights and inputs rounded to bfloat16, products summed in f32 (AVX512_BF16's
    /// `vdpbf16ps`, twice the multiply-adds per instruction; emulated elsewhere).
    Bf16,
}

/// Whether this processor has AVX512_BF16.
pub(super) fn has_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bf16")
    {
        return true;
    }
    false
}

/// `x` rounded to bfloat16 (to nearest, ties to even): the top 16 bits.
#[inline(always)]
fn bf16_bits(x: f32) -> u32 {
    let bits = x.to_bits();
    (bits + 0x7fff + ((bits >> 16) & 1)) >> 16
}

/// Two bfloat16 in one 32-bit slot (`low` in the low half), as `vdpbf16ps` reads pairs.
#[inline(always)]
fn bf16_pair(low: f32, high: f32) -> f32 {
    f32::from_bits(bf16_bits(low) | (bf16_bits(high) << 16))
}

impl Isa {
    /// The best build this processor runs.
    pub(super) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Self::Avx512;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Self::Avx2;
        }
        Self::Portable
    }
}

/// 16 floats on a 64-byte boundary: the unit of the packed panels.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Lane([f32; 16]);

/// A dense layer's weight `[outputs, inputs]` and bias, packed for [`linear`]: panel `p`
/// holds outputs `32p .. 32p + 32`, input by input (32 contiguous floats per input), the
/// last panel padded with zeros. In bfloat16, each 32-bit slot holds a pair of inputs
/// (`depth` = inputs / 2, rounded up).
pub(super) struct PackedLinear {
    inputs: usize,
    outputs: usize,
    precision: Precision,
    /// Slots per output in a panel: `inputs`, or pairs of inputs in bfloat16.
    depth: usize,
    panels: Vec<Lane>,
    /// The bias, padded with zeros to whole panels.
    bias: Vec<Lane>,
}

impl PackedLinear {
    /// Packs `weight` (`outputs × inputs`, row-major) and `bias` (`outputs`).
    pub(super) fn new(
        weight: &[f32],
        bias: &[f32],
        outputs: usize,
        inputs: usize,
        precision: Precision,
    ) -> Self {
        assert_eq!(weight.len(), outputs * inputs, "weight shape");
        assert_eq!(bias.len(), outputs, "bias shape");
        let depth = match precision {
            Precision::F32 => inputs,
            Precision::Bf16 => inputs.div_ceil(2),
        };
        let panel_count = outputs.div_ceil(NR);
        let mut panels = vec![Lane([0.0; 16]); panel_count * depth * NR / 16];
        let mut bias_lanes = vec![Lane([0.0; 16]); panel_count * NR / 16];
        {
            let flat = floats_mut(&mut panels);
            for (o, row) in weight.chunks_exact(inputs.max(1)).enumerate() {
                let (panel, column) = (o / NR, o % NR);
                match precision {
                    Precision::F32 => {
                        for (i, w) in row.iter().enumerate() {
                            flat[(panel * depth + i) * NR + column] = *w;
                        }
                    }
                    Precision::Bf16 => {
                        for (i, pair) in row.chunks(2).enumerate() {
                            let high = pair.get(1).copied().unwrap_or(0.0);
                            flat[(panel * depth + i) * NR + column] = bf16_pair(pair[0], high);
                        }
                    }
                }
            }
            floats_mut(&mut bias_lanes)[..outputs].copy_from_slice(bias);
        }
        Self {
            inputs,
            outputs,
            precision,
            depth,
            panels,
            bias: bias_lanes,
        }
    }

    /// An empty f32 matrix, for [`Self::repack`].
    fn empty() -> Self {
        Self {
            inputs: 0,
            outputs: 0,
            precision: Precision::F32,
            depth: 0,
            panels: Vec::new(),
            bias: Vec::new(),
        }
    }

    /// Packs in f32, reusing the storage, the `outputs × inputs` matrix whose element
    /// `(o, i)` is `source[o * outer + i * inner]`, with a zero bias.
    fn repack(
        &mut self,
        source: &[f32],
        outputs: usize,
        inputs: usize,
        outer: usize,
        inner: usize,
    ) {
        let panel_count = outputs.div_ceil(NR);
        self.inputs = inputs;
        self.outputs = outputs;
        self.precision = Precision::F32;
        self.depth = inputs;
        self.panels.clear();
        self.panels
            .resize(panel_count * inputs * NR / 16, Lane([0.0; 16]));
        self.bias.clear();
        self.bias.resize(panel_count * NR / 16, Lane([0.0; 16]));
        let flat = floats_mut(&mut self.panels);
        for o in 0..outputs {
            let (panel, column) = (o / NR, o % NR);
            for i in 0..inputs {
                flat[(panel * inputs + i) * NR + column] = source[o * outer + i * inner];
            }
        }
    }

    /// Inputs per row of `x`.
    pub(super) fn inputs(&self) -> usize {
        self.inputs
    }

    /// Outputs per row of `y`.
    pub(super) fn outputs(&self) -> usize {
        self.outputs
    }

    fn panel_count(&self) -> usize {
        self.outputs.div_ceil(NR)
    }
}

fn floats(lanes: &[Lane]) -> &[f32] {
    // SAFETY: `Lane` is `repr(C)` around `[f32; 16]` (no padding: 64 bytes, align 64), so
    // the lanes are `16 * len` initialised, contiguous, properly aligned floats, borrowed for
    // the same lifetime.
    unsafe { std::slice::from_raw_parts(lanes.as_ptr().cast::<f32>(), lanes.len() * 16) }
}

fn floats_mut(lanes: &mut [Lane]) -> &mut [f32] {
    // SAFETY: as in `floats`, and the borrow is exclusive.
    unsafe { std::slice::from_raw_parts_mut(lanes.as_mut_ptr().cast::<f32>(), lanes.len() * 16) }
}

/// What is done to a tile of `y` after the product.
#[derive(Clone, Copy)]
pub(super) struct Epilogue<'a> {
    /// Added element-wise: `y += residual` (same shape as `y`).
    pub residual: Option<&'a [f32]>,
    /// Then `y = GELU(y)`.
    pub gelu: bool,
}

/// `y = x · Wᵀ + b` (then the epilogue), `x` being `m × inputs` and `y` `m × outputs`, both
/// row-major; on up to `threads` threads (1 or 2).
pub(super) fn linear(
    isa: Isa,
    x: &[f32],
    m: usize,
    w: &PackedLinear,
    epilogue: Epilogue<'_>,
    y: &mut [f32],
    threads: usize,
) {
    let (k, n) = (w.inputs, w.outputs);
    assert!(x.len() >= m * k, "x is m × inputs");
    assert!(y.len() >= m * n, "y is m × outputs");
    if let Some(residual) = epilogue.residual {
        assert!(residual.len() >= m * n, "the residual is m × outputs");
    }
    let panels = w.panel_count();
    let mut paired: Vec<f32>;
    let x = match w.precision {
        Precision::F32 => x,
        Precision::Bf16 => {
            paired = vec![0.0; m * w.depth];
            match isa {
                Isa::Portable => to_pairs(&x[..m * k], k, &mut paired),
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `Isa::Avx2` is only chosen when AVX2 and FMA are present.
                Isa::Avx2 => unsafe { to_pairs_avx2(&x[..m * k], k, &mut paired) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `Isa::Avx512` is only chosen when AVX-512F is present.
                Isa::Avx512 => unsafe { to_pairs_avx512(&x[..m * k], k, &mut paired) },
            }
            &paired
        }
    };
    let job = Job {
        x: x.as_ptr(),
        lda: w.depth,
        m,
        w,
        residual: epilogue.residual.map(<[f32]>::as_ptr),
        gelu: epilogue.gelu,
        y: y.as_mut_ptr(),
        ldy: n,
    };
    if threads > 1 && panels > 1 && m * n * k >= SPLIT_AT {
        let half = panels / 2;
        rayon::join(|| job.run(isa, 0..half), || job.run(isa, half..panels));
    } else {
        job.run(isa, 0..panels);
    }
}

/// The rows of `x` (`k` wide) as pairs of bfloat16 (`k / 2` wide, rounded up).
#[inline(always)]
fn to_pairs(x: &[f32], k: usize, paired: &mut [f32]) {
    let pairs = k.div_ceil(2);
    for (out, row) in paired.chunks_exact_mut(pairs).zip(x.chunks_exact(k)) {
        let (even, odd) = row.split_at(k & !1);
        for (o, pair) in out.iter_mut().zip(even.chunks_exact(2)) {
            *o = bf16_pair(pair[0], pair[1]);
        }
        if let Some(last) = odd.first() {
            out[pairs - 1] = bf16_pair(*last, 0.0);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn to_pairs_avx2(x: &[f32], k: usize, paired: &mut [f32]) {
    to_pairs(x, k, paired);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn to_pairs_avx512(x: &[f32], k: usize, paired: &mut [f32]) {
    to_pairs(x, k, paired);
}

/// `y = a · Wᵀ` for `m` rows, `a` and `y` with row strides `lda` (≥ inputs) and `ldy`
/// (≥ outputs), `W` packed in f32 with a zero bias: attention's products, on one thread.
fn product(isa: Isa, a: &[f32], lda: usize, m: usize, w: &PackedLinear, y: &mut [f32], ldy: usize) {
    if m == 0 {
        return;
    }
    assert_eq!(w.precision, Precision::F32, "f32 weights");
    assert!(
        lda >= w.inputs && a.len() >= (m - 1) * lda + w.inputs,
        "a is m × lda"
    );
    assert!(
        ldy >= w.outputs && y.len() >= (m - 1) * ldy + w.outputs,
        "y is m × ldy"
    );
    let job = Job {
        x: a.as_ptr(),
        lda,
        m,
        w,
        residual: None,
        gelu: false,
        y: y.as_mut_ptr(),
        ldy,
    };
    job.run(isa, 0..w.panel_count());
}

/// One call of [`linear`] or [`product`], bounds checked: every pointer covers `m` rows of
/// its matrix (`x` rows `lda` apart, `y` and `residual` rows `ldy` apart).
struct Job<'a> {
    x: *const f32,
    lda: usize,
    m: usize,
    w: &'a PackedLinear,
    residual: Option<*const f32>,
    gelu: bool,
    y: *mut f32,
    ldy: usize,
}

// SAFETY: the pointers come from slices borrowed by `linear` for the whole job; threads
// read `x` and `residual` and write disjoint output panels (columns) of `y`.
unsafe impl Sync for Job<'_> {}

impl Job<'_> {
    /// Computes the columns of `panels`.
    fn run(&self, isa: Isa, panels: Range<usize>) {
        let (k, n, ldy) = (self.w.depth, self.w.outputs, self.ldy);
        let weights = floats(&self.w.panels);
        let bias = floats(&self.w.bias);
        for panel in panels {
            let columns = (n - panel * NR).min(NR);
            let mut row = 0;
            while row < self.m {
                let rows = (self.m - row).min(MR);
                let offset = row * ldy + panel * NR;
                // SAFETY: `linear` and `product` checked that `x` has `m` rows of `lda ≥ k`
                // slots (`depth` pairs in bfloat16), `y` and `residual` `m` rows of
                // `ldy ≥ n`: rows `row .. row + rows` ≤ m, columns `32 panel + columns` ≤ n;
                // the panel and its bias are in bounds of the packed weight.
                let tile = unsafe {
                    Tile {
                        a: self.x.add(row * self.lda),
                        lda: self.lda,
                        k,
                        b: weights[panel * k * NR..].as_ptr(),
                        bias: bias[panel * NR..].as_ptr(),
                        c: self.y.add(offset),
                        ldc: ldy,
                        columns,
                        residual: self.residual.map(|r| r.add(offset)),
                        gelu: self.gelu,
                        bf16: self.w.precision == Precision::Bf16,
                    }
                };
                tile.run(isa, rows);
                row += rows;
            }
        }
    }
}

/// A register tile: `rows` rows of `x` (stride `lda`) times one packed panel (`k` slots
/// deep); `c` and `residual` rows `ldc` apart.
struct Tile {
    a: *const f32,
    lda: usize,
    k: usize,
    b: *const f32,
    bias: *const f32,
    c: *mut f32,
    ldc: usize,
    /// Valid outputs in the panel (≤ 32).
    columns: usize,
    residual: Option<*const f32>,
    gelu: bool,
    /// `a` and `b` hold pairs of bfloat16 (`k` pairs per row).
    bf16: bool,
}

macro_rules! by_rows {
    ($rows:expr, $f:ident, $($arg:expr),*) => {
        match $rows {
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            5 => $f::<5>($($arg),*),
            6 => $f::<6>($($arg),*),
            7 => $f::<7>($($arg),*),
            _ => $f::<8>($($arg),*),
        }
    };
}

impl Tile {
    fn run(&self, isa: Isa, rows: usize) {
        match (isa, self.bf16) {
            // SAFETY: `Tile` is only built by `Job::run` with pointers in bounds for `rows`.
            (Isa::Portable, false) => unsafe { by_rows!(rows, tile_portable, self) },
            // SAFETY: as above.
            (Isa::Portable, true) => unsafe { by_rows!(rows, tile_bf16_portable, self) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, and `Isa::Avx2` is only chosen when AVX2 and FMA are present.
            (Isa::Avx2, false) => unsafe { by_rows!(rows, tile_avx2, self) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            (Isa::Avx2, true) => unsafe { by_rows!(rows, tile_bf16_avx2, self) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, and `Isa::Avx512` is only chosen when AVX-512F is present.
            (Isa::Avx512, false) => unsafe { by_rows!(rows, tile_avx512, self) },
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx512, true) => {
                if has_bf16() {
                    // SAFETY: as above, and AVX512_BF16 is present.
                    unsafe { by_rows!(rows, tile_bf16_avx512, self) }
                } else {
                    // SAFETY: as above.
                    unsafe { by_rows!(rows, tile_bf16_portable, self) }
                }
            }
        }
    }
}

/// The portable tile: accumulators in arrays the compiler keeps in vector registers.
///
/// # Safety
/// `t`'s pointers cover `R` rows and its panel.
unsafe fn tile_portable<const R: usize>(t: &Tile) {
    // SAFETY: forwarded.
    unsafe { tile_loops::<R, false>(t) };
}

/// [`tile_portable`] compiled for AVX2, with fused multiply-adds.
///
/// # Safety
/// AVX2 and FMA are available, and `t`'s pointers cover `R` rows and its panel.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2<const R: usize>(t: &Tile) {
    // SAFETY: forwarded.
    unsafe { tile_loops::<R, true>(t) };
}

/// [`tile_bf16_portable`] compiled for AVX2.
///
/// # Safety
/// AVX2 and FMA are available, and `t`'s pointers cover `R` rows and its panel.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_bf16_avx2<const R: usize>(t: &Tile) {
    // SAFETY: forwarded.
    unsafe { tile_bf16_portable::<R>(t) };
}

/// The loops of the portable tiles; `FUSED` when `mul_add` is an instruction.
///
/// # Safety
/// `t`'s pointers cover `R` rows and its panel.
#[inline(always)]
unsafe fn tile_loops<const R: usize, const FUSED: bool>(t: &Tile) {
    /// Outputs per pass: one 256-bit register, so that `R` rows of sums fit in registers.
    const CHUNK: usize = 8;
    let mut acc = [[0.0f32; NR]; R];
    for chunk in 0..NR / CHUNK {
        let mut sums = [[0.0f32; CHUNK]; R];
        for p in 0..t.k {
            // SAFETY: the panel holds `k × 32` floats and the rows of `a` `k` floats each.
            let b = unsafe { &*t.b.add(p * NR + chunk * CHUNK).cast::<[f32; CHUNK]>() };
            for (r, sums) in sums.iter_mut().enumerate() {
                // SAFETY: row `r < R` of `a`, input `p < k`.
                let a = unsafe { *t.a.add(r * t.lda + p) };
                for (c, b) in sums.iter_mut().zip(b) {
                    *c = if FUSED { a.mul_add(*b, *c) } else { *c + a * b };
                }
            }
        }
        for (acc, sums) in acc.iter_mut().zip(&sums) {
            acc[chunk * CHUNK..(chunk + 1) * CHUNK].copy_from_slice(sums);
        }
    }
    // SAFETY: forwarded.
    unsafe { store_portable(t, &acc) };
}

/// The portable bfloat16 tile: each slot of `a` and `b` holds two inputs.
///
/// # Safety
/// `t`'s pointers cover `R` rows and its panel.
#[inline(always)]
unsafe fn tile_bf16_portable<const R: usize>(t: &Tile) {
    let split = |slot: f32| {
        let bits = slot.to_bits();
        (
            f32::from_bits(bits << 16),
            f32::from_bits(bits & 0xffff_0000),
        )
    };
    let mut acc = [[0.0f32; NR]; R];
    for p in 0..t.k {
        // SAFETY: the panel holds `k × 32` slots and the rows of `a` `k` slots each.
        let b = unsafe { &*t.b.add(p * NR).cast::<[f32; NR]>() };
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: row `r < R` of `a`, slot `p < k`.
            let (a0, a1) = split(unsafe { *t.a.add(r * t.lda + p) });
            for (c, b) in acc.iter_mut().zip(b) {
                let (b0, b1) = split(*b);
                *c += a0 * b0 + a1 * b1;
            }
        }
    }
    // SAFETY: forwarded.
    unsafe { store_portable(t, &acc) };
}

/// Writes a tile's sums with the bias, the residual and GELU.
///
/// # Safety
/// `t`'s pointers cover `R` rows.
#[inline(always)]
unsafe fn store_portable<const R: usize>(t: &Tile, acc: &[[f32; NR]; R]) {
    for (r, acc) in acc.iter().enumerate() {
        for (j, v) in acc.iter().enumerate().take(t.columns) {
            // SAFETY: `j < columns ≤ 32` outputs of the panel, row `r < R`.
            unsafe {
                let mut y = v + *t.bias.add(j);
                if let Some(residual) = t.residual {
                    y += *residual.add(r * t.ldc + j);
                }
                if t.gelu {
                    y = gelu(y);
                }
                *t.c.add(r * t.ldc + j) = y;
            }
        }
    }
}

/// The AVX-512 tile: `R × 2` zmm accumulators, the panel's two registers loaded once per
/// input and every row's input broadcast.
///
/// # Safety
/// AVX-512F is available, and `t`'s pointers cover `R` rows and its panel (64-byte aligned).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512<const R: usize>(t: &Tile) {
    use std::arch::x86_64::{_mm512_fmadd_ps, _mm512_load_ps, _mm512_set1_ps, _mm512_setzero_ps};
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    for p in 0..t.k {
        // SAFETY: the panel holds `k × 32` floats, 64-byte aligned (`Lane`).
        let (b0, b1) = unsafe {
            (
                _mm512_load_ps(t.b.add(p * NR)),
                _mm512_load_ps(t.b.add(p * NR + 16)),
            )
        };
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: row `r < R` of `a`, input `p < k`.
            let a = _mm512_set1_ps(unsafe { *t.a.add(r * t.lda + p) });
            acc[0] = _mm512_fmadd_ps(a, b0, acc[0]);
            acc[1] = _mm512_fmadd_ps(a, b1, acc[1]);
        }
    }
    // SAFETY: forwarded.
    unsafe { store_avx512(t, &acc) };
}

/// The AVX512_BF16 tile: as [`tile_avx512`], each `vdpbf16ps` multiplying and summing two
/// inputs per output.
///
/// # Safety
/// AVX-512F and AVX512_BF16 are available, and `t`'s pointers cover `R` rows and its panel
/// (64-byte aligned).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn tile_bf16_avx512<const R: usize>(t: &Tile) {
    use std::arch::x86_64::{
        __m512, __m512bh, _mm512_dpbf16_ps, _mm512_load_ps, _mm512_set1_ps, _mm512_setzero_ps,
    };
    /// The same 512 bits as 32 bfloat16.
    #[inline(always)]
    fn pairs(v: __m512) -> __m512bh {
        // SAFETY: both are 512-bit vectors of plain bits; every bit pattern is valid.
        unsafe { std::mem::transmute::<__m512, __m512bh>(v) }
    }
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    for p in 0..t.k {
        // SAFETY: the panel holds `k × 32` slots, 64-byte aligned (`Lane`).
        let (b0, b1) = unsafe {
            (
                pairs(_mm512_load_ps(t.b.add(p * NR))),
                pairs(_mm512_load_ps(t.b.add(p * NR + 16))),
            )
        };
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: row `r < R` of `a`, slot `p < k`.
            let a = pairs(_mm512_set1_ps(unsafe { *t.a.add(r * t.lda + p) }));
            acc[0] = _mm512_dpbf16_ps(acc[0], a, b0);
            acc[1] = _mm512_dpbf16_ps(acc[1], a, b1);
        }
    }
    // SAFETY: forwarded.
    unsafe { store_avx512(t, &acc) };
}

/// Writes a tile's sums with the bias, the residual and GELU.
///
/// # Safety
/// AVX-512F is available and `t`'s pointers cover `R` rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn store_avx512<const R: usize>(t: &Tile, acc: &[[std::arch::x86_64::__m512; 2]; R]) {
    use std::arch::x86_64::{
        __mmask16, _mm512_add_ps, _mm512_load_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps,
    };
    let mask = |from: usize| -> __mmask16 {
        let valid = t.columns.saturating_sub(from).min(16);
        #[allow(clippy::cast_possible_truncation)] // at most 16 bits
        let m = ((1u32 << valid) - 1) as u16;
        m
    };
    let masks = [mask(0), mask(16)];
    for (r, acc) in acc.iter().enumerate() {
        for (half, (v, m)) in acc.iter().zip(masks).enumerate() {
            let j = half * 16;
            // SAFETY: masked loads and stores touch only the `columns` valid outputs of row
            // `r < R`; the padded bias holds 32 floats.
            unsafe {
                let mut y = _mm512_add_ps(*v, _mm512_load_ps(t.bias.add(j)));
                if let Some(residual) = t.residual {
                    y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(m, residual.add(r * t.ldc + j)));
                }
                _mm512_mask_storeu_ps(t.c.add(r * t.ldc + j), m, y);
            }
        }
        if t.gelu {
            // SAFETY: the row's `columns` outputs, just written.
            let row = unsafe { std::slice::from_raw_parts_mut(t.c.add(r * t.ldc), t.columns) };
            for v in row {
                *v = gelu(*v);
            }
        }
    }
}

/// The exact GELU, `x · Φ(x)`, with a rational `erf` (Eigen's and XLA's `erf` for f32,
/// within a few ulp) that the compiler vectorises.
#[inline(always)]
pub(super) fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

#[inline(always)]
#[allow(clippy::excessive_precision, clippy::unreadable_literal)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.72614225801306e-10f32;
    p = p * x2 + 2.77068142495902e-08;
    p = p * x2 + -2.10102402082508e-06;
    p = p * x2 + -5.69250639462346e-05;
    p = p * x2 + -7.34990630326855e-04;
    p = p * x2 + -2.95459980854025e-03;
    p = p * x2 + -1.60960333262415e-02;
    p *= x;
    let mut q = -1.45660718464996e-05f32;
    q = q * x2 + -2.13374055278905e-04;
    q = q * x2 + -1.68282697438203e-03;
    q = q * x2 + -7.37332916720468e-03;
    q = q * x2 + -1.42647390514189e-02;
    p / q
}

/// `e^x` for `x ≤ 0` (Cephes' polynomial after reduction by powers of two), vectorisable.
#[inline(always)]
#[allow(clippy::excessive_precision, clippy::unreadable_literal)]
fn exp_nonpositive(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2²³: adding it rounds to an integer
    let x = x.max(-87.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = n * -0.693_359_375 + x;
    let r = n * 2.121_944_4e-4 + r;
    let mut p = 1.9875691500e-4f32;
    p = p * r + 1.3981999507e-3;
    p = p * r + 8.3334519073e-3;
    p = p * r + 4.1665795894e-2;
    p = p * r + 1.6666665459e-1;
    p = p * r + 5.0000001201e-1;
    let y = p * (r * r) + r + 1.0;
    // `shifted`'s low mantissa bits hold `n` (in [-126, 0]): 2ⁿ's exponent field is n + 127.
    let scale = f32::from_bits(
        shifted
            .to_bits()
            .wrapping_sub(ROUND.to_bits())
            .wrapping_add(127)
            << 23,
    );
    y * scale
}

/// Sum of `values`, 16 partial sums at a time.
#[inline(always)]
fn sum(values: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let chunks = values.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (a, v) in acc.iter_mut().zip(chunk) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Self-attention: `qkv` holds every token's `[query | key | value]`, each `hidden` wide
/// (rows of `3 hidden`), the sequences' rows at `ranges` (a token attends within its
/// sequence); `context` receives the heads' outputs, `hidden` wide. With two threads and
/// enough work, each takes half of the heads.
pub(super) fn attention(
    isa: Isa,
    qkv: &[f32],
    hidden: usize,
    heads: usize,
    ranges: &[Range<usize>],
    context: &mut [f32],
    threads: usize,
) {
    let tokens = context.len() / hidden;
    assert_eq!(qkv.len(), tokens * 3 * hidden, "qkv is tokens × 3 hidden");
    assert_eq!(context.len(), tokens * hidden, "context is tokens × hidden");
    assert!(
        heads > 0 && hidden.is_multiple_of(heads),
        "heads divide hidden"
    );
    assert!(
        ranges.iter().all(|r| r.start <= r.end && r.end <= tokens),
        "ranges within the tokens"
    );
    let width = hidden / heads;
    let part = |heads: Range<usize>, out: &mut [f32]| {
        let out_width = heads.len() * width;
        let mut scratch = Scratch {
            scores: Vec::new(),
            keys: PackedLinear::empty(),
            values: PackedLinear::empty(),
        };
        for range in ranges {
            let qkv = &qkv[range.start * 3 * hidden..range.end * 3 * hidden];
            let out = &mut out[range.start * out_width..range.end * out_width];
            attention_loops(isa, qkv, hidden, width, heads.clone(), out, &mut scratch);
        }
    };
    let work: usize = ranges.iter().map(|r| r.len() * r.len() * hidden).sum();
    if threads > 1 && heads > 1 && work >= SPLIT_AT / 2 {
        let half = heads / 2;
        let (left_width, right_width) = (half * width, hidden - half * width);
        let mut left = vec![0.0f32; tokens * left_width];
        let mut right = vec![0.0f32; tokens * right_width];
        rayon::join(
            || part(0..half, &mut left),
            || part(half..heads, &mut right),
        );
        for ((row, l), r) in context
            .chunks_exact_mut(hidden)
            .zip(left.chunks_exact(left_width))
            .zip(right.chunks_exact(right_width))
        {
            row[..left_width].copy_from_slice(l);
            row[left_width..].copy_from_slice(r);
        }
    } else {
        part(0..heads, context);
    }
}

/// The heads `heads` of one sequence; `out` has their outputs side by side. Both products
/// (scores `Q·Kᵀ`, then `P·V`) run through the tiled kernel, the head's keys and values
/// packed as weights.
#[inline(always)]
fn attention_loops(
    isa: Isa,
    qkv: &[f32],
    hidden: usize,
    width: usize,
    heads: Range<usize>,
    out: &mut [f32],
    scratch: &mut Scratch,
) {
    let stride = 3 * hidden;
    let tokens = qkv.len() / stride;
    let out_width = heads.len() * width;
    let first_head = heads.start;
    #[allow(clippy::cast_precision_loss)] // head widths are small
    let scale = 1.0 / (width as f32).sqrt();
    scratch.scores.clear();
    scratch.scores.resize(tokens * tokens, 0.0);
    for head in heads {
        let q0 = head * width;
        let (k0, v0) = (hidden + q0, 2 * hidden + q0);
        let o0 = (head - first_head) * width;
        // Keys as a weight `tokens × width`: key `j` is output `j`.
        scratch.keys.repack(&qkv[k0..], tokens, width, stride, 1);
        product(
            isa,
            &qkv[q0..],
            stride,
            tokens,
            &scratch.keys,
            &mut scratch.scores,
            tokens,
        );
        for row in scratch.scores.chunks_exact_mut(tokens) {
            softmax(isa, row, scale);
        }
        // Values as a weight `width × tokens`: token `j` is input `j`.
        scratch.values.repack(&qkv[v0..], width, tokens, 1, stride);
        product(
            isa,
            &scratch.scores,
            tokens,
            tokens,
            &scratch.values,
            &mut out[o0..],
            out_width,
        );
    }
}

/// Buffers of [`attention_loops`], reused from head to head.
struct Scratch {
    scores: Vec<f32>,
    keys: PackedLinear,
    values: PackedLinear,
}

/// `row = softmax(scale · row)`.
fn softmax(isa: Isa, row: &mut [f32], scale: f32) {
    match isa {
        Isa::Portable => softmax_loops(row, scale),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx2` is only chosen when AVX2 and FMA are present.
        Isa::Avx2 => unsafe { softmax_avx2(row, scale) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx512` is only chosen when AVX-512F is present.
        Isa::Avx512 => unsafe { softmax_avx512(row, scale) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn softmax_avx2(row: &mut [f32], scale: f32) {
    softmax_loops(row, scale);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn softmax_avx512(row: &mut [f32], scale: f32) {
    softmax_loops(row, scale);
}

#[inline(always)]
fn softmax_loops(row: &mut [f32], scale: f32) {
    let max = maximum(row);
    for s in row.iter_mut() {
        *s = exp_nonpositive((*s - max) * scale);
    }
    let norm = 1.0 / sum(row);
    for s in row.iter_mut() {
        *s *= norm;
    }
}

/// The largest of `values` (none is NaN), 16 lanes at a time.
#[inline(always)]
fn maximum(values: &[f32]) -> f32 {
    let larger = |a: f32, b: f32| if b > a { b } else { a };
    let mut acc = [f32::NEG_INFINITY; 16];
    let chunks = values.chunks_exact(16);
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |a, b| larger(a, *b));
    for chunk in chunks {
        for (a, v) in acc.iter_mut().zip(chunk) {
            *a = larger(*a, *v);
        }
    }
    acc.iter().fold(tail, |a, b| larger(a, *b))
}

/// Normalises each `gamma.len()`-wide row of `x` in place: `(x - mean) / √(var + eps) · γ + β`.
pub(super) fn layer_norm(isa: Isa, x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    assert_eq!(gamma.len(), beta.len(), "gamma and beta");
    match isa {
        Isa::Portable => layer_norm_loops(x, gamma, beta, eps),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx2` is only chosen when AVX2 and FMA are present.
        Isa::Avx2 => unsafe { layer_norm_avx2(x, gamma, beta, eps) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx512` is only chosen when AVX-512F is present.
        Isa::Avx512 => unsafe { layer_norm_avx512(x, gamma, beta, eps) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn layer_norm_avx2(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    layer_norm_loops(x, gamma, beta, eps);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn layer_norm_avx512(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    layer_norm_loops(x, gamma, beta, eps);
}

#[inline(always)]
fn layer_norm_loops(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    #[allow(clippy::cast_precision_loss)] // widths are small
    let width = gamma.len() as f32;
    let mut centred = vec![0.0f32; gamma.len()];
    for row in x.chunks_exact_mut(gamma.len()) {
        let mean = sum(row) / width;
        for (c, v) in centred.iter_mut().zip(row.iter()) {
            *c = (v - mean) * (v - mean);
        }
        let variance = sum(&centred) / width;
        let scale = 1.0 / (variance + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *v = (*v - mean) * scale * g + b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn isas() -> Vec<Isa> {
        let mut isas = vec![Isa::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                isas.push(Isa::Avx2);
            }
            if Isa::detect() == Isa::Avx512 {
                isas.push(Isa::Avx512);
            }
        }
        isas
    }

    /// Deterministic values in [-1, 1).
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                #[allow(clippy::cast_precision_loss)]
                let v = (state >> 40) as f32 / (1u64 << 24) as f32;
                2.0 * v - 1.0
            })
            .collect()
    }

    fn naive(x: &[f32], w: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut y = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    s += f64::from(x[i * k + p]) * f64::from(w[j * k + p]);
                }
                #[allow(clippy::cast_possible_truncation)]
                let s = s as f32;
                y[i * n + j] = s + b[j];
            }
        }
        y
    }

    fn rounded(values: &[f32], precision: Precision) -> Vec<f32> {
        match precision {
            Precision::F32 => values.to_vec(),
            Precision::Bf16 => values
                .iter()
                .map(|v| f32::from_bits(bf16_bits(*v) << 16))
                .collect(),
        }
    }

    /// Both builds (AVX-512 where present), both precisions (bfloat16 against the naive
    /// product of the rounded operands).
    #[test]
    fn linear_matches_the_naive_product_on_odd_shapes() {
        let cases = isas()
            .into_iter()
            .flat_map(|isa| [(isa, Precision::F32), (isa, Precision::Bf16)]);
        for (isa, precision) in cases {
            for &m in &[1, 3, 8, 17] {
                for &k in &[384, 1536, 5] {
                    for &n in &[1, 33, 100, 384] {
                        let x = values(m * k, 1);
                        let w = values(n * k, 2);
                        let b = values(n, 3);
                        let residual = values(m * n, 4);
                        let packed = PackedLinear::new(&w, &b, n, k, precision);
                        let expected = naive(
                            &rounded(&x, precision),
                            &rounded(&w, precision),
                            &b,
                            m,
                            k,
                            n,
                        );
                        for threads in [1, 2] {
                            let mut y = vec![f32::NAN; m * n];
                            let plain = Epilogue {
                                residual: None,
                                gelu: false,
                            };
                            linear(isa, &x, m, &packed, plain, &mut y, threads);
                            for (got, want) in y.iter().zip(&expected) {
                                assert!(
                                    (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                                    "{isa:?} {precision:?} m={m} k={k} n={n}: {got} vs {want}"
                                );
                            }
                            let fused = Epilogue {
                                residual: Some(&residual),
                                gelu: true,
                            };
                            linear(isa, &x, m, &packed, fused, &mut y, threads);
                            for ((got, want), r) in y.iter().zip(&expected).zip(&residual) {
                                let want = gelu_reference(want + r);
                                assert!(
                                    (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                                    "{isa:?} {precision:?} m={m} k={k} n={n} fused: {got} vs {want}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn linear_splits_across_threads_without_changing_a_bit() {
        let (m, k, n) = (40, 384, 1536);
        let (x, w, b) = (values(m * k, 5), values(n * k, 6), values(n, 7));
        let packed = PackedLinear::new(&w, &b, n, k, Precision::F32);
        for isa in isas() {
            let plain = Epilogue {
                residual: None,
                gelu: false,
            };
            let mut one = vec![0.0; m * n];
            let mut two = vec![0.0; m * n];
            linear(isa, &x, m, &packed, plain, &mut one, 1);
            linear(isa, &x, m, &packed, plain, &mut two, 2);
            assert_eq!(one, two);
        }
    }

    fn gelu_reference(x: f32) -> f32 {
        0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2))
    }

    #[test]
    fn fast_gelu_and_exp_match_libm() {
        for i in -4000..=4000 {
            #[allow(clippy::cast_precision_loss)]
            let x = i as f32 / 500.0;
            let (got, want) = (gelu(x), gelu_reference(x));
            assert!((got - want).abs() <= 1e-6 * (1.0 + want.abs()), "gelu({x})");
            if x <= 0.0 {
                let x = x * 10.0;
                let (got, want) = (exp_nonpositive(x), x.exp());
                assert!(
                    (got - want).abs() <= 4e-7 * want,
                    "exp({x}): {got} vs {want}"
                );
            }
        }
        assert!(exp_nonpositive(-1000.0) < 1e-37);
    }

    fn attention_reference(qkv: &[f32], hidden: usize, heads: usize) -> Vec<f32> {
        let tokens = qkv.len() / (3 * hidden);
        let width = hidden / heads;
        #[allow(clippy::cast_precision_loss)]
        let scale = 1.0 / (width as f32).sqrt();
        let mut out = vec![0.0f32; tokens * hidden];
        let at = |row: usize, column: usize| qkv[row * 3 * hidden + column];
        for h in 0..heads {
            for i in 0..tokens {
                let scores: Vec<f32> = (0..tokens)
                    .map(|j| {
                        (0..width)
                            .map(|d| at(i, h * width + d) * at(j, hidden + h * width + d))
                            .sum::<f32>()
                            * scale
                    })
                    .collect();
                let max = scores.iter().fold(f32::NEG_INFINITY, |a, b| a.max(*b));
                let e: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f32 = e.iter().sum();
                for d in 0..width {
                    out[i * hidden + h * width + d] = (0..tokens)
                        .map(|j| e[j] / total * at(j, 2 * hidden + h * width + d))
                        .sum();
                }
            }
        }
        out
    }

    #[test]
    fn attention_matches_the_reference() {
        // Head widths 16 and 32 (the usual one, with its own loop).
        for (isa, (hidden, heads)) in isas()
            .into_iter()
            .flat_map(|isa| [(isa, (48, 3)), (isa, (96, 3))])
        {
            for tokens in [1, 2, 19] {
                let qkv: Vec<f32> = values(tokens * 3 * hidden, 8)
                    .iter()
                    .map(|v| v * 3.0)
                    .collect();
                let want = attention_reference(&qkv, hidden, heads);
                for threads in [1, 2] {
                    let mut got = vec![f32::NAN; tokens * hidden];
                    let whole = 0..tokens;
                    let ranges = std::slice::from_ref(&whole);
                    attention(isa, &qkv, hidden, heads, ranges, &mut got, threads);
                    for (g, w) in got.iter().zip(&want) {
                        assert!((g - w).abs() < 1e-5, "{isa:?} {tokens} tokens: {g} vs {w}");
                    }
                }
            }
        }
    }

    #[test]
    fn attention_stays_within_each_sequence() {
        let (hidden, heads) = (96, 3);
        let (a, b) = (values(5 * 3 * hidden, 10), values(23 * 3 * hidden, 11));
        let mut want = attention_reference(&a, hidden, heads);
        want.extend(attention_reference(&b, hidden, heads));
        let both: Vec<f32> = a.iter().chain(&b).copied().collect();
        for isa in isas() {
            for threads in [1, 2] {
                let mut got = vec![f32::NAN; 28 * hidden];
                attention(isa, &both, hidden, heads, &[0..5, 5..28], &mut got, threads);
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() < 1e-5,
                        "{isa:?} {threads} threads: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn layer_norm_centres_and_scales() {
        for isa in isas() {
            let mut x = values(3 * 37, 9);
            let (gamma, beta) = (vec![1.0; 37], vec![0.0; 37]);
            layer_norm(isa, &mut x, &gamma, &beta, 1e-12);
            for row in x.chunks_exact(37) {
                let mean: f32 = row.iter().sum::<f32>() / 37.0;
                let var: f32 = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 37.0;
                assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4, "{isa:?}");
            }
        }
    }
}
