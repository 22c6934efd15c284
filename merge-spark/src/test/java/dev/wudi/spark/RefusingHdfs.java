package dev.wudi.spark;

import java.io.IOException;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.hdfs.DistributedFileSystem;
import org.apache.hadoop.util.Progressable;

/** HDFS, refusing the tasks' writes {@link RefusedParts} names. */
public final class RefusingHdfs extends DistributedFileSystem {

    @Override
    public FSDataOutputStream create(Path f, FsPermission permission, boolean overwrite, int bufferSize,
                                     short replication, long blockSize, Progressable progress) throws IOException {
        FSDataOutputStream o = super.create(f, permission, overwrite, bufferSize, replication, blockSize, progress);
        return RefusedParts.checked(o, getConf(), f);
    }
}
