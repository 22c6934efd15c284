package dev.wudi.spark;

import dev.wudi.merge.DistributedMerge;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The method's tensors split into groups of about equal work, one Spark task each: largest first, each to the group
 * with the least work so far (the longest-processing-time rule: the largest group is within 4/3 of the best split).
 * Within a group the tensors keep their output order.
 */
final class TensorGroups {

    private TensorGroups() {
    }

    /** One task's tensors, in output order. */
    record Group(int id, List<String> names, double work) implements java.io.Serializable {
    }

    static List<Group> balanced(List<DistributedMerge.MethodTensor> tensors, int count) {
        int n = Math.max(1, Math.min(count, tensors.size()));
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < tensors.size(); i++) {
            order.add(i);
        }
        order.sort(Comparator.comparingDouble((Integer i) -> tensors.get(i).work()).reversed());
        double[] work = new double[n];
        List<List<Integer>> members = new ArrayList<>();
        for (int g = 0; g < n; g++) {
            members.add(new ArrayList<>());
        }
        for (int i : order) {
            int least = 0;
            for (int g = 1; g < n; g++) {
                if (work[g] < work[least]) {
                    least = g;
                }
            }
            members.get(least).add(i);
            work[least] += tensors.get(i).work();
        }
        List<Group> groups = new ArrayList<>();
        for (int g = 0; g < n; g++) {
            List<Integer> m = members.get(g);
            if (m.isEmpty()) {
                continue;
            }
            m.sort(Comparator.naturalOrder());
            List<String> names = new ArrayList<>();
            m.forEach(i -> names.add(tensors.get(i).name()));
            groups.add(new Group(groups.size(), List.copyOf(names), work[g]));
        }
        return groups;
    }
}
