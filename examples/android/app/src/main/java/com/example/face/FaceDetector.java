package com.example.face;

/** MediaPipe's face detector, compiled ahead of time by mvcc into libfacejni.so. */
public final class FaceDetector implements AutoCloseable {
    static {
        System.loadLibrary("facejni");
    }

    private long handle = create();

    /** Runs the detector on a 128×128×3 image in [-1, 1]; returns the 896 anchor logits. */
    public float[] run(float[] input) {
        return run(handle, input);
    }

    @Override
    public void close() {
        destroy(handle);
        handle = 0;
    }

    private static native long create();

    private static native float[] run(long handle, float[] input);

    private static native void destroy(long handle);
}
