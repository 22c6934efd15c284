package example;

import dev.wudi.api.LayerMerge;
import dev.wudi.api.LayerResult;
import dev.wudi.api.Solver;
import dev.wudi.api.WeightLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * WUDI on one layer held in memory, as a tool with its own I/O would call it: a [64, 128] base weight and three
 * fine-tunes of it, merged with the paper's Adam on the CPU.
 */
public final class LayerMergeExample {

    public static void main(String[] args) {
        int out = 64;
        int in = 128;
        Random random = new Random(1);
        float[] base = new float[out * in];
        for (int j = 0; j < base.length; j++) {
            base[j] = (float) (random.nextGaussian() * 0.05);
        }
        List<float[]> fineTuned = new ArrayList<>();
        for (int task = 0; task < 3; task++) {
            float[] w = base.clone();
            for (int j = 0; j < w.length; j++) {
                w[j] += (float) (random.nextGaussian() * 0.002);     // a fine-tune's task vector
            }
            fineTuned.add(w);
        }
        try (LayerMerge wudi = LayerMerge.open("cpu", Solver.adam())) {
            LayerResult r = wudi.merge("layer", base, fineTuned, new long[] {out, in}, WeightLayout.OUT_IN);
            System.out.printf("interference loss %.4g -> %.4g; merged[0] = %.6f (base %.6f)%n", r.lossBefore(),
                    r.lossAfter(), r.merged()[0], base[0]);
        }
    }
}
