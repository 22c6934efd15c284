package dev.wudi.cli;

import dev.wudi.backend.BackendUnavailableException;
import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.cuda.CudaException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine;

/** Turns exceptions into one line and an exit code: user mistakes never show a stack trace. */
final class Errors implements CommandLine.IExecutionExceptionHandler {

    static final int FAILURE = 1;
    static final int USAGE = 2;

    /** A mistake in the command line found after parsing (a bad combination of options). */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    static int usage(CommandLine.ParameterException ex, String[] args) {
        PrintWriter err = ex.getCommandLine().getErr();
        String message = ex.getMessage();
        if (ex instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
            // picocli's nearest option names: --desnity meets --density
            message += "; did you mean " + String.join(" or ", u.getSuggestions().subList(0,
                    Math.min(2, u.getSuggestions().size()))) + "?";
        }
        err.println("wudi: " + message);
        err.println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help' for more information.");
        err.flush();
        if (jsonMode(java.util.List.of(args))) {
            JsonProgress.error(ex.getCommandLine().getOut(), USAGE, message);
        }
        return USAGE;
    }

    /**
     * Whether the command line asked for JSON on stdout (--progress json, or --json of plan, inspect and methods):
     * then an error is also one JSON object on stdout, so a tool reading stdout needs no second parser for stderr.
     */
    static boolean jsonMode(java.util.List<String> args) {
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--json") || a.equals("--progress=json")
                    || (a.equals("--progress") && i + 1 < args.size() && args.get(i + 1).equals("json"))) {
                return true;
            }
        }
        return false;
    }

    @Override
    public int handleExecutionException(Exception ex, CommandLine cl, CommandLine.ParseResult parseResult) {
        PrintWriter err = cl.getErr();
        boolean json = parseResult != null && jsonMode(parseResult.originalArgs());
        if (ex instanceof UsageException || ex instanceof dev.wudi.spec.OptionException
                || ex instanceof dev.wudi.checkpoint.UsageMistakeException) {
            err.println("wudi: " + ex.getMessage());
            err.println("Try '" + cl.getCommandSpec().qualifiedName() + " --help' for more information.");
            err.flush();
            if (json) {
                JsonProgress.error(cl.getOut(), USAGE, ex.getMessage());
            }
            return USAGE;
        }
        err.println("wudi: error: " + describe(ex));
        if (System.getenv("WUDI_DEBUG") != null || !isUserError(ex)) {
            ex.printStackTrace(err);
        }
        err.flush();
        if (json) {
            JsonProgress.error(cl.getOut(), FAILURE, "error: " + describe(ex));
        }
        return FAILURE;
    }

    static boolean isUserError(Throwable ex) {
        return ex instanceof IOException || ex instanceof UncheckedIOException || ex instanceof CheckpointException
                || ex instanceof IllegalArgumentException || ex instanceof BackendUnavailableException
                || ex instanceof CudaException;
    }

    static String describe(Throwable ex) {
        if (ex instanceof UncheckedIOException && ex.getCause() != null) {
            return describe(ex.getCause());
        }
        if (ex instanceof NoSuchFileException) {
            return ((NoSuchFileException) ex).getFile() + ": no such file or folder";
        }
        if (ex instanceof AccessDeniedException) {
            return ((AccessDeniedException) ex).getFile() + ": permission denied";
        }
        if (ex instanceof FileSystemException fse && fse.getReason() != null) {
            return fse.getFile() + ": " + fse.getReason();
        }
        String m = ex.getMessage();
        return m == null ? ex.getClass().getSimpleName() : m;
    }
}
