package dev.wudi.backend;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Several devices merging one checkpoint together ({@code --device cuda:all}, {@code cuda:0,2}, {@code cuda:all,cpu}):
 * every WUDI tensor is independent of the others, so the merge deals them out ({@code merge/DeviceDealer}). As a
 * {@link Backend} it stands for its first member, so code that needs one device (element-wise methods, a problem
 * created outside a merge) still has one; the merge asks for {@link #members()}.
 */
public final class DeviceSet implements Backend {

    private final List<Backend> members;

    /** @param members at least one, in the order given on the command line; this set closes them */
    public DeviceSet(List<Backend> members) {
        if (members.isEmpty()) {
            throw new IllegalArgumentException("a device set needs at least one device");
        }
        this.members = List.copyOf(members);
    }

    public List<Backend> members() {
        return members;
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

    /** Every member offers them (the CPU and the GPU both do). */
    @Override
    public boolean offersSpectralSolvers() {
        return members.stream().allMatch(Backend::offersSpectralSolvers);
    }

    /** Only if every member does: a tensor may land on any of them. */
    @Override
    public boolean solvesExactInDouble() {
        return members.stream().allMatch(Backend::solvesExactInDouble);
    }

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
