package dev.wudi.backend;

import dev.wudi.lora.LowRankWudi;
import dev.wudi.solver.spectral.SpectralFilter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Several devices merging one checkpoint together ({@code --device cuda:all}, {@code cuda:0,2}, {@code cuda:all,cpu}):
 * every WUDI tensor is independent of the others, so the merge deals them out ({@code merge/DeviceDealer}). As a
 * {@link Backend} it stands for its first member, so code that needs one device (element-wise methods, a problem
 * created outside a merge) still has one; the merge asks for {@link #devices()}.
 */
public final class DeviceSet implements Backend {

    /** Abilities that concern every tensor of a merge, which may land on any member. */
    private static final Set<Capability> WHEREVER_IT_LANDS = EnumSet.of(Capability.SPECTRAL_SOLVERS,
            Capability.EXACT_IN_DOUBLE, Capability.HOST);

    private final List<Backend> members;

    /** @param members at least one, in the order given on the command line; this set closes them */
    public DeviceSet(List<Backend> members) {
        if (members.isEmpty()) {
            throw new IllegalArgumentException("a device set needs at least one device");
        }
        this.members = List.copyOf(members);
    }

    @Override
    public String name() {
        return members.stream().map(Backend::name).collect(Collectors.joining("+"));
    }

    @Override
    public String describe() {
        return members.stream().map(Backend::describe).collect(Collectors.joining("; "));
    }

    @Override
    public WudiProblem newProblem(String tensorName, int rows, int cols) {
        return members.get(0).newProblem(tensorName, rows, cols);
    }

    @Override
    public LowRankWudi.Solution solveLowRank(int rows, int cols, List<LowRankWudi.Factors> tasks,
                                             SpectralFilter filter) {
        return members.get(0).solveLowRank(rows, cols, tasks, filter);
    }

    /** The members, each dealt WUDI tensors of its own. */
    @Override
    public List<Backend> devices() {
        return members;
    }

    /**
     * What a tensor can count on wherever it lands (the spectral solvers, the exact solver in double: only what every
     * member offers), and what the first member offers for the problems and solves this set hands to it
     * ({@link #newProblem}, {@link #solveLowRank}).
     */
    @Override
    public Set<Capability> capabilities() {
        Set<Capability> first = members.get(0).capabilities();
        EnumSet<Capability> offered = EnumSet.noneOf(Capability.class);
        for (Capability c : Capability.values()) {
            boolean everywhere = members.stream().allMatch(b -> b.capabilities().contains(c));
            if (WHEREVER_IT_LANDS.contains(c) ? everywhere : first.contains(c)) {
                offered.add(c);
            }
        }
        return Collections.unmodifiableSet(offered);
    }

    /** The members' notes, each once. */
    @Override
    public String spectralSolversNote() {
        List<String> notes = new ArrayList<>();
        for (Backend b : members) {
            String n = b.spectralSolversNote();
            if (n != null && !notes.contains(n)) {
                notes.add(n);
            }
        }
        return notes.isEmpty() ? null : String.join("; ", notes);
    }

    @Override
    public void close() {
        RuntimeException first = null;
        for (Backend b : members) {
            try {
                b.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
