"""Build notebooks/04_mfcc.ipynb: the MFCC pipeline stage by stage on a real FSDD clip,
the document's formula next to the standard one, batching, and the MFCC layer's gradient.

Run from the repository root: ``python notebooks/_build/build_04_mfcc.py``
(``QUICK=1`` for the quick mode, ``--no-execute`` to only write the cells). Without
``MMSCRATCH_DATA`` the notebook falls back to a synthetic chirp.
"""

from _nb import SETUP, build, code, md

cells = [
    md("""
    # 04 · MFCC from scratch: waveform → frames → spectrum → mel → log → DCT

    The source document (section 3.1.3) gives the audio feature as

    $$c_i = \\log_{10}\\frac{P_i}{P_{i-1}}$$

    with $P_i$ the energy of mel band $i$. **That is not how MFCCs are defined.** It is
    the log-ratio of neighbouring bands — the first difference of the log-mel spectrum
    across frequency. The standard mel-frequency cepstral coefficients are the discrete
    cosine transform (DCT-II) of the log mel-band energies:

    $$c_j = \\sum_{i=0}^{M-1} s_j \\cos\\!\\Big(\\frac{\\pi j (2i+1)}{2M}\\Big) \\log P_i,
      \\qquad s_0=\\sqrt{1/M},\\ s_{j>0}=\\sqrt{2/M}.$$

    This notebook calls every stage of `mmscratch.features.mfcc` on its own and plots
    it, on a real recording of the Free Spoken Digit Dataset, then computes the
    document's formula next to the standard one (section 8).
    Chapter: [3.1 Feature extraction](../chapters/03-1-feature-extraction.md).
    """),
    code(SETUP),
    md("""
    ## 1. A waveform

    `7_jackson_32.wav` from FSDD (8 kHz, 16-bit mono), read with the loader's
    header-checked `read_wav` and scaled to [-1, 1). Without the data folder
    (`MMSCRATCH_DATA`) a synthetic chirp stands in.
    """),
    code("""
    from pathlib import Path

    from mmscratch.datasets._paths import data_dir
    from mmscratch.datasets.fsdd import read_wav
    from mmscratch.features import MFCC, mfcc
    from mmscratch.features.mfcc import (dct_matrix, deltas, document_mfcc, fft_frequencies,
                                         frame, get_window, hz_to_mel, log, mel_filterbank,
                                         power_spectrum, power_to_db, preemphasis)

    sr = 8000
    wav = data_dir() / "fsdd" / "recordings" / "7_jackson_32.wav"
    if wav.is_file():
        y_host = read_wav(wav).astype(np.float64) / 32768.0
        source = wav.name
    else:
        t = np.arange(4000) / sr
        y_host = 0.5 * np.sin(2 * np.pi * (100 * t + 0.5 * 3000 / t[-1] * t**2))
        source = "synthetic chirp (MMSCRATCH_DATA not set)"
    y = backend.asarray(y_host)  # the one explicit move to the active backend
    print(source, "|", y_host.size, "samples =", y_host.size / sr, "s")

    fig, ax = plt.subplots(figsize=(7, 2))
    ax.plot(np.arange(y_host.size) / sr, y_host, lw=0.6)
    ax.set(xlabel="time (s)", ylabel="x[n]", title=f"waveform: {source}")
    plt.show()
    """),
    md("""
    ## 2. Pre-emphasis and framing

    Pre-emphasis $x'[n] = x[n] - 0.97\\,x[n-1]$ lifts the high frequencies that voiced
    speech attenuates. Framing cuts 25 ms frames (200 samples) every 10 ms (80 samples);
    each frame is multiplied by a Hann window so that its edges do not leak energy into
    every frequency bin. `frame` is one strided view of the padded signal — no copy, no
    loop over frames.
    """),
    code("""
    x_pre = preemphasis(y, 0.97)
    frames, n_frames = frame(x_pre, frame_length=200, hop_length=80, center=True)
    window = get_window("hann", 200)
    windowed = frames * window
    print("frames:", tuple(frames.shape), "(frames, samples per frame)")

    fr, win, wfr = (backend.to_numpy(a) for a in (frames, window, windowed))
    k = n_frames // 2
    fig, axes = plt.subplots(1, 2, figsize=(9, 2.2))
    axes[0].imshow(fr.T, aspect="auto", origin="lower", cmap="coolwarm")
    axes[0].set(title="frames (after pre-emphasis)", xlabel="frame t", ylabel="sample in frame")
    axes[1].plot(fr[k], lw=0.7, label=f"frame {k}")
    axes[1].plot(wfr[k], lw=0.9, label="× Hann window")
    axes[1].plot(win * np.abs(fr[k]).max(), "k--", lw=0.6, label="window (scaled)")
    axes[1].set(title="one frame and its window", xlabel="sample"); axes[1].legend(fontsize=7)
    plt.tight_layout(); plt.show()
    """),
    md("""
    ## 3. Power spectrum

    $P_k = |X_k|^2$ with $X = \\mathrm{rFFT}(\\text{frame}, N{=}256)$: 129 bins from 0 to
    4 kHz per frame. Shown in dB.
    """),
    code("""
    P = power_spectrum(windowed, n_fft=256)  # (frames, 129)
    freqs = fft_frequencies(sr, 256)
    Pdb = backend.to_numpy(power_to_db(P, top_db=80.0))
    fig, ax = plt.subplots(figsize=(7, 2.5))
    im = ax.imshow(Pdb.T, aspect="auto", origin="lower", cmap="magma",
                   extent=[0, n_frames * 80 / sr, 0, freqs[-1]])
    ax.set(title="power spectrogram (dB)", xlabel="time (s)", ylabel="Hz")
    fig.colorbar(im, ax=ax); plt.show()
    """),
    md("""
    ## 4. Mel filterbank

    Triangles centred at frequencies equally spaced on the mel scale. Slaney's scale
    (librosa's default) is linear below 1 kHz and logarithmic above; HTK's is
    $m = 2595\\log_{10}(1 + f/700)$. Slaney normalisation scales each triangle to unit
    area, so wide high-frequency filters do not dominate.
    """),
    code("""
    H_slaney = backend.to_numpy(mel_filterbank(sr, 256, n_mels=26))
    H_htk = backend.to_numpy(mel_filterbank(sr, 256, n_mels=26, htk=True, norm=None))
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.4))
    axes[0].plot(freqs, H_htk.T, lw=0.7); axes[0].set(title="26 HTK filters (peak 1)", xlabel="Hz")
    axes[1].plot(freqs, H_slaney.T, lw=0.7)
    axes[1].set(title="26 Slaney filters (unit area)", xlabel="Hz")
    f = np.linspace(0, 4000, 200)
    axes[2].plot(f, hz_to_mel(f) / hz_to_mel(4000.0), label="Slaney")
    axes[2].plot(f, hz_to_mel(f, htk=True) / hz_to_mel(4000.0, htk=True), label="HTK")
    axes[2].set(title="mel scales (÷ value at 4 kHz)", xlabel="Hz"); axes[2].legend(fontsize=7)
    plt.tight_layout(); plt.show()
    """),
    md("""
    ## 5. Log mel energies

    $P_i = \\sum_k H_{ik} P_k$ is one matrix product for all frames. The log takes a
    floor first ($\\ln\\max(P_i, \\varepsilon)$), so a silent frame gives a finite
    value instead of $-\\infty$.
    """),
    code("""
    H = backend.asarray(H_htk)
    mel_E = P @ H.T  # (frames, 26)
    log_mel = log(mel_E)
    fig, ax = plt.subplots(figsize=(7, 2.3))
    im = ax.imshow(backend.to_numpy(log_mel).T, aspect="auto", origin="lower", cmap="magma")
    ax.set(title="log mel energies ln P_i", xlabel="frame t", ylabel="mel band i")
    fig.colorbar(im, ax=ax); plt.show()
    print("silence stays finite:", float(backend.to_numpy(log(backend.asarray(np.zeros(3)))).min()))
    """),
    md("""
    ## 6. DCT-II → MFCC

    The DCT decorrelates the log mel energies and packs the smooth spectral envelope
    into the first few coefficients. As a matrix $D$ (13 × 26) it is one product.
    Left: the first DCT basis rows; right: the 13 MFCCs of the clip.
    """),
    code("""
    D = dct_matrix(26, 13)  # orthonormal rows
    mfcc_ours = log_mel @ D.T  # (frames, 13)
    Dh = backend.to_numpy(D)
    print("D D^T = I:", np.allclose(Dh @ Dh.T, np.eye(13)))
    fig, axes = plt.subplots(1, 2, figsize=(10, 2.4))
    for j in range(4):
        axes[0].plot(Dh[j], label=f"j={j}")
    axes[0].set(title="DCT-II basis rows", xlabel="mel band i"); axes[0].legend(fontsize=7)
    im = axes[1].imshow(backend.to_numpy(mfcc_ours).T, aspect="auto", origin="lower", cmap="coolwarm")
    axes[1].set(title="MFCC c_j (standard definition)", xlabel="frame t", ylabel="j")
    fig.colorbar(im, ax=axes[1]); plt.tight_layout(); plt.show()
    """),
    md("""
    ## 7. The same in one call, and the reference libraries

    `mfcc(signal, sr, preset=...)` runs the whole pipeline. The two presets reproduce
    `librosa.feature.mfcc` and `python_speech_features.mfcc` on the same input
    (compared here when the libraries are installed; the tests check many settings).
    Deltas are the local slope of each coefficient over ±N frames.
    """),
    code("""
    feats = {p: backend.to_numpy(mfcc(y, sr, preset=p)) for p in ("librosa", "python_speech_features")}
    for p, v in feats.items():
        print(f"preset={p!r}: shape {v.shape} (n_mfcc, frames)")
    try:
        import librosa
        import python_speech_features as psf
        ref_l = librosa.feature.mfcc(y=y_host, sr=sr)
        ref_p = psf.mfcc(y_host, sr).T
        print("max |ours - librosa|                =", np.abs(feats["librosa"] - ref_l).max())
        print("max |ours - python_speech_features| =", np.abs(feats["python_speech_features"] - ref_p).max())
    except ImportError as exc:
        print("reference library not installed:", exc)

    d1 = backend.to_numpy(deltas(backend.asarray(feats["python_speech_features"]), width=5, mode="edge"))
    fig, axes = plt.subplots(1, 2, figsize=(10, 2.3))
    axes[0].imshow(feats["python_speech_features"], aspect="auto", origin="lower", cmap="coolwarm")
    axes[0].set(title="MFCC (python_speech_features preset)", xlabel="frame", ylabel="j")
    axes[1].imshow(d1, aspect="auto", origin="lower", cmap="coolwarm")
    axes[1].set(title="deltas (regression over ±2 frames)", xlabel="frame")
    plt.tight_layout(); plt.show()
    """),
    md("""
    ## 8. The document's formula next to the standard one

    The document's $c_i = \\log_{10}(P_i / P_{i-1})$ equals
    $\\log_{10}P_i - \\log_{10}P_{i-1}$: the difference of neighbouring log-mel values
    along frequency. It keeps $M-1$ numbers per frame (25 here) that follow every
    ripple of the spectrum, and the overall loudness cancels out (scaling the signal
    leaves them unchanged). The MFCC instead projects the whole log-mel vector onto
    cosines: $c_0$ carries the loudness, the next few the smooth envelope, and with all
    $M$ coefficients the DCT is invertible. Below, both computed on the same mel
    energies. **The left image is the document's incorrect definition, shown only for
    comparison.**
    """),
    code("""
    doc = backend.to_numpy(document_mfcc(mel_E))  # (frames, 25)
    lm10 = np.log10(np.maximum(backend.to_numpy(mel_E), 1e-10))
    print("document's c_i == first difference of log10 mel energies:",
          np.allclose(doc, np.diff(lm10, axis=1)))

    # 10x louder: the document's ratios do not move, the MFCC's c_0 does (by sqrt(M) ln 100)
    louder_E = mel_E * 100.0
    doc_loud = backend.to_numpy(document_mfcc(louder_E))
    shift = backend.to_numpy(log(louder_E) @ D.T - mfcc_ours)
    print("document's c_i unchanged by 10x gain:", np.allclose(doc_loud, doc))
    print("MFCC shift under 10x gain: c_0 by", shift[:, 0].mean().round(3),
          "(sqrt(26) ln 100 =", round(np.sqrt(26) * np.log(100), 3), "), c_1.. by",
          np.abs(shift[:, 1:]).max().round(12))
    full = backend.to_numpy(log_mel @ dct_matrix(26).T @ dct_matrix(26))
    print("all 26 MFCCs give back the log-mel energies:", np.allclose(full, backend.to_numpy(log_mel)))
    fig, axes = plt.subplots(1, 2, figsize=(10, 2.4))
    im = axes[0].imshow(doc.T, aspect="auto", origin="lower", cmap="coolwarm")
    axes[0].set(title="document's (incorrect) c_i = log10(P_i / P_{i-1})", xlabel="frame", ylabel="i")
    fig.colorbar(im, ax=axes[0])
    im = axes[1].imshow(backend.to_numpy(mfcc_ours).T, aspect="auto", origin="lower", cmap="coolwarm")
    axes[1].set(title="standard MFCC: DCT-II of log mel energies", xlabel="frame", ylabel="j")
    fig.colorbar(im, ax=axes[1]); plt.tight_layout(); plt.show()
    """),
    md("""
    ## 9. Batches of clips

    A list of variable-length clips goes through in length-sorted chunks: each chunk
    is zero-padded to its longest clip, framed, transformed with one batched rFFT and
    two matrix products. The result is padded features plus each clip's frame count.
    """),
    code("""
    import time

    from mmscratch.datasets import load_fsdd

    if wav.is_file():
        data = load_fsdd(max_len=8000)
        n_clips = 100 if QUICK else 3000
        wave = np.concatenate([data.train.waveforms, data.test.waveforms])[:n_clips]
        lens = np.concatenate([data.train.lengths, data.test.lengths])[:n_clips]
    else:
        rng = np.random.default_rng(0)
        lens = rng.integers(1200, 8000, size=50)
        wave = rng.standard_normal((50, 8000)) * (np.arange(8000) < lens[:, None])
    ex = MFCC(sr, preset="librosa")
    t0 = time.perf_counter()
    F, n = ex.ragged(backend.asarray(wave.astype(np.float32)), lens)
    backend.synchronize()
    print(f"{len(lens)} clips -> features {tuple(F.shape)} in {time.perf_counter() - t0:.2f} s;"
          f" frames per clip {n.min()}..{n.max()}")
    """),
    md("""
    ## 10. MFCC as a layer: the gradient reaches the waveform

    `mmscratch.nn.MFCCLayer` wraps the pipeline with an explicit backward pass
    (DCT, log, mel matrix, $|X|^2$ through the inverse real DFT, window, overlap-add,
    pre-emphasis), so a model can train through its own front end. Here: the gradient
    of the summed $c_1$ with respect to every sample.
    """),
    code("""
    from mmscratch.nn import MFCCLayer

    layer = MFCCLayer(sr, preset="python_speech_features")
    out = layer(y[None, :])  # (1, frames, 13)
    g = np.zeros(tuple(out.shape)); g[..., 1] = 1.0
    dx = backend.to_numpy(layer.backward(backend.asarray(g)))[0]
    fig, ax = plt.subplots(figsize=(7, 2))
    ax.plot(np.arange(dx.size) / sr, dx, lw=0.5)
    ax.set(title="d(sum_t c_1[t]) / dx[n]", xlabel="time (s)")
    plt.show()
    """),
]

if __name__ == "__main__":
    build("04_mfcc", cells)
